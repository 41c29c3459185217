from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings
from tests.softkey import AttestationCA

_ROOTS = Path(tempfile.mkdtemp()) / "roots.pem"
_ROOTS.write_bytes(AttestationCA().pem)

PRODUCTION = {
    "SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS": str(_ROOTS),
    "SIGNPOST_KEYS_DIR": "/etc/signpost/keys",
    "SIGNPOST_ENV": "production",
    "SIGNPOST_ORIGIN": "https://signpost.example",
    "SIGNPOST_SECRET_KEY": "s" * 40,
    "SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS": "cb69481e-8ff7-4039-93ec-0a2729a154a8",
}


def problems_for(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return caught.value.problems


def test_defaults_are_a_local_development_service() -> None:
    settings = load_settings({})
    assert settings.env == "development"
    assert settings.data_dir == Path("var")
    assert settings.database.kind == "sqlite"
    assert settings.database.sqlite_path == Path("var/signpost.sqlite3")
    assert settings.keys_dir == Path("var/keys")
    assert settings.origin == "http://localhost:8000"
    assert settings.rp_id == "localhost"
    assert settings.allowed_hosts == ("localhost", "localhost:8000")
    assert not settings.secure_cookies
    assert settings.checkpoint_dir == Path("var/checkpoints")
    assert (settings.checkpoint_rows, settings.checkpoint_minutes) == (1000, 5)
    assert settings.audit_log_name == "localhost/signpost-audit"
    assert (
        settings.disclosure_access_hours,
        settings.disclosure_decision_hours,
        settings.disclosure_urgent_decision_hours,
        settings.disclosure_requests_per_day,
    ) == (72, 72, 4, 10)


def test_production_with_everything_set_starts() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.production
    assert settings.rp_id == "signpost.example"
    assert settings.secure_cookies


def test_production_refuses_a_missing_secret() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SIGNPOST_SECRET_KEY"}
    assert "SIGNPOST_SECRET_KEY is required in production" in problems_for(env)


def test_production_refuses_plain_http_except_localhost() -> None:
    assert any(
        "https" in p for p in problems_for({**PRODUCTION, "SIGNPOST_ORIGIN": "http://signpost.example"})
    )
    assert load_settings({**PRODUCTION, "SIGNPOST_ORIGIN": "http://localhost:8000"}).production


def test_production_refuses_development_only_settings() -> None:
    problems = problems_for({**PRODUCTION, "SIGNPOST_DEBUG": "1"})
    assert any("SIGNPOST_DEBUG is a development-only setting" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SIGNPOST_ENV", "staging", "SIGNPOST_ENV must be"),
        ("SIGNPOST_DATABASE_URL", "mysql://x/y", "must start with sqlite:/// or postgresql://"),
        ("SIGNPOST_DATABASE_URL", "postgresql://host:notaport/db", "not a valid postgresql:// URL"),
        ("SIGNPOST_DATABASE_URL", "postgresql://host", "must name a host and a database"),
        ("SIGNPOST_DATABASE_URL", "sqlite:///x.db?max_page_count=0", "only SQLite option is ?max_page_count"),
        ("SIGNPOST_DATABASE_URL", "sqlite:///x.db?cache=shared", "only SQLite option is ?max_page_count"),
        ("SIGNPOST_ORIGIN", "signpost.example", "scheme and host only"),
        ("SIGNPOST_ORIGIN", "https://signpost.example/path", "scheme and host only"),
        ("SIGNPOST_ORIGIN", "https://a b", "spaces or control characters"),
        ("SIGNPOST_RP_ID", "other.example", "origin's host or a parent domain"),
        ("SIGNPOST_RP_ID", "-bad-", "must be a host name"),
        ("SIGNPOST_ALLOWED_HOSTS", "ok.example,bad_host!", "not a host name"),
        ("SIGNPOST_SECRET_KEY", "short", "32 to 512 characters"),
        ("SIGNPOST_DEBUG", "maybe", "SIGNPOST_DEBUG must be 0 or 1"),
        ("SIGNPOST_LOG_LEVEL", "LOUD", "SIGNPOST_LOG_LEVEL must be"),
        ("SIGNPOST_DATA_DIR", "x" * 5000, "longer than"),
        ("SIGNPOST_DATA_DIR", "var\x00evil", "spaces or control characters"),
        ("SIGNPOST_AUDIT_CHECKPOINT_ROWS", "0", "SIGNPOST_AUDIT_CHECKPOINT_ROWS must be a whole number"),
        ("SIGNPOST_AUDIT_CHECKPOINT_ROWS", "1e3", "SIGNPOST_AUDIT_CHECKPOINT_ROWS must be a whole number"),
        ("SIGNPOST_AUDIT_CHECKPOINT_MINUTES", "9999", "from 1 to 1440"),
        ("SIGNPOST_AUDIT_LOG_NAME", "Signpost Audit", "spaces or control characters"),
        ("SIGNPOST_AUDIT_LOG_NAME", "https://x.example/log", "SIGNPOST_AUDIT_LOG_NAME must be a host name"),
        ("SIGNPOST_DISCLOSURE_ACCESS_HOURS", "0", "from 1 to 720"),
        ("SIGNPOST_DISCLOSURE_DECISION_HOURS", "721", "from 1 to 720"),
        ("SIGNPOST_DISCLOSURE_URGENT_DECISION_HOURS", "73", "from 1 to 72"),
        (
            "SIGNPOST_DISCLOSURE_REQUESTS_PER_DAY",
            "ten",
            "SIGNPOST_DISCLOSURE_REQUESTS_PER_DAY must be a whole number",
        ),
        ("SIGNPOST_CONSENT_INVITE_MONTHS", "13", "from 1 to 12"),
        ("SIGNPOST_CONSENT_TRIES_PER_HOUR", "0", "from 1 to 10000"),
    ],
)
def test_malformed_values_are_named(name: str, value: str, fragment: str) -> None:
    problems = problems_for({name: value})
    assert any(fragment in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_for({"SIGNPOST_ENV": "production", "SIGNPOST_ORIGIN": "http://example.org"})
    assert len(problems) >= 2


def test_a_parent_domain_is_a_valid_rp_id() -> None:
    settings = load_settings(
        {"SIGNPOST_ORIGIN": "https://app.signpost.example", "SIGNPOST_RP_ID": "signpost.example"}
    )
    assert settings.rp_id == "signpost.example"


def test_an_sqlite_url_may_cap_the_file_and_the_engine_sets_the_cap_on_its_connections(
    tmp_path: Path,
) -> None:
    from app.database import KeptSQLiteEngine, make_engine

    settings = load_settings({"SIGNPOST_DATABASE_URL": f"sqlite:///{tmp_path}/capped.db?max_page_count=5000"})
    assert settings.database.sqlite_path == tmp_path / "capped.db"
    assert settings.database.sqlite_max_pages == 5000
    engine = make_engine(settings.database)
    assert isinstance(engine, KeptSQLiteEngine)
    assert "PRAGMA max_page_count = 5000" in engine.pragmas
    uncapped = load_settings({"SIGNPOST_DATABASE_URL": f"sqlite:///{tmp_path}/plain.db"})
    assert uncapped.database.sqlite_max_pages is None


def test_postgres_url_is_described_without_credentials() -> None:
    settings = load_settings({"SIGNPOST_DATABASE_URL": "postgresql://user:hunter2@db.example:5433/signpost"})
    assert settings.database.kind == "postgres"
    description = settings.database.describe()
    assert "hunter2" not in description
    assert description == "PostgreSQL at db.example:5433/signpost"


def test_secret_is_not_in_the_repr() -> None:
    settings = load_settings(PRODUCTION)
    assert "s" * 40 not in repr(settings)


def test_production_refuses_none_attestation_and_needs_an_aaguid_allow_list() -> None:
    problems = problems_for({**PRODUCTION, "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION": "1"})
    assert any("SIGNPOST_DEV_ALLOW_NONE_ATTESTATION is a development-only setting" in p for p in problems)
    env = {k: v for k, v in PRODUCTION.items() if k != "SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS"}
    assert any("SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS" in p for p in problems_for(env))
    assert any(
        "not a UUID" in p
        for p in problems_for({**PRODUCTION, "SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS": "yubikey"})
    )


def test_development_may_accept_none_attestation_only_when_asked() -> None:
    assert not load_settings({}).allow_none_attestation
    assert load_settings({"SIGNPOST_DEV_ALLOW_NONE_ATTESTATION": "1"}).allow_none_attestation


def test_production_needs_attestation_roots() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS"}
    assert any("SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS" in p for p in problems_for(env))
    assert load_settings(PRODUCTION).attestation_roots[0].startswith(b"-----BEGIN CERTIFICATE-----")


def test_production_keys_must_live_apart_from_the_data() -> None:
    unset = {k: v for k, v in PRODUCTION.items() if k != "SIGNPOST_KEYS_DIR"}
    assert any("SIGNPOST_KEYS_DIR must be set in production" in p for p in problems_for(unset))
    inside = {**PRODUCTION, "SIGNPOST_DATA_DIR": "/srv/signpost", "SIGNPOST_KEYS_DIR": "/srv/signpost/keys"}
    assert any("must not be inside the data directory" in p for p in problems_for(inside))
