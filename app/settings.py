"""Signpost's settings: read once from ``SIGNPOST_*`` environment variables into a frozen object.

Every problem is collected and reported together, one line each, so that ``signpost check`` and a
refused start say everything that is wrong at once. Nothing here logs or prints a secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

Environment = Literal["development", "production"]

MAX_SETTING_LENGTH = 2048
_SAFE_TEXT = re.compile(r"^[\x21-\x7e]*$")  # printable ASCII, no spaces or control characters
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)

#: Settings that make a deployment weaker and are refused in production.
DEVELOPMENT_ONLY = ("SIGNPOST_DEBUG", "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION")
#: A checkpoint's origin line (C2SP tlog-checkpoint): a schema-less URL, no spaces.
_LOG_NAME = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._-]+)*$")
_AAGUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class SettingsError(Exception):
    """The environment does not describe a service that can start. ``problems`` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed ``SIGNPOST_DATABASE_URL``: either an SQLite file or a PostgreSQL DSN."""

    kind: Literal["sqlite", "postgres"]
    sqlite_path: Path | None = None
    dsn: str | None = None
    #: ``sqlite:///path?max_page_count=N``: the most pages the file may grow to (SQLite's
    #: ``PRAGMA max_page_count``, set on every connection): a cap on the database's size, so it
    #: fails cleanly before the disk it shares fills.
    sqlite_max_pages: int | None = None

    def describe(self) -> str:
        """A description safe to print: the SQLite path, or the PostgreSQL host and database."""
        if self.kind == "sqlite":
            return f"SQLite at {self.sqlite_path}"
        parts = urlsplit(self.dsn or "")
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path}"


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment
    data_dir: Path
    database: DatabaseUrl
    origin: str
    rp_id: str
    allowed_hosts: tuple[str, ...]
    keys_dir: Path
    secret_key: str | None = field(repr=False)
    debug: bool
    log_level: str
    trusted_proxies: tuple[str, ...] = ()
    allow_none_attestation: bool = False
    allowed_aaguids: frozenset[str] = frozenset()
    attestation_roots: tuple[bytes, ...] = ()
    checkpoint_dir: Path = Path("var/checkpoints")
    checkpoint_rows: int = 1000
    checkpoint_minutes: int = 5
    audit_log_name: str = "localhost/signpost-audit"
    searches_per_hour: int = 60
    views_per_day: int = 200
    api_searches_per_hour: int = 2_000  # per API client, beside each practitioner's own
    api_views_per_day: int = 20_000  # per API client, beside each practitioner's own
    subject_access_requests_per_hour: int = 5
    subject_access_tries_per_hour: int = 20
    disclosure_access_hours: int = 72
    disclosure_decision_hours: int = 72
    disclosure_urgent_decision_hours: int = 4
    disclosure_requests_per_day: int = 10
    consent_invite_months: int = 6
    consent_tries_per_hour: int = 60

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` and ``__Host-`` prefixed wherever the origin is https."""
        return self.origin.startswith("https://")


def _text(env: Mapping[str, str], name: str, default: str, problems: list[str]) -> str:
    value = env.get(name, default)
    if len(value) > MAX_SETTING_LENGTH:
        problems.append(f"{name} is longer than {MAX_SETTING_LENGTH} characters")
        return default
    if not _SAFE_TEXT.match(value):
        problems.append(f"{name} contains spaces or control characters")
        return default
    return value


def _whole_number(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    value = _text(env, name, str(default), problems)
    if not value.isdigit() or not low <= int(value) <= high:
        problems.append(f"{name} must be a whole number from {low} to {high}")
        return default
    return int(value)


def _parse_database_url(value: str, data_dir: Path, problems: list[str]) -> DatabaseUrl:
    if value == "":
        return DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3")
    if value.startswith("sqlite:///"):
        path, _, options = value.removeprefix("sqlite:///").partition("?")
        if not path or "\x00" in path:
            problems.append("SIGNPOST_DATABASE_URL names no SQLite file (use sqlite:///path/to/file)")
            return DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3")
        max_pages = None
        if options:
            name, _, number = options.partition("=")
            if name != "max_page_count" or not number.isascii() or not number.isdigit() or int(number) < 1:
                problems.append("SIGNPOST_DATABASE_URL's only SQLite option is ?max_page_count=N (N pages)")
            else:
                max_pages = int(number)
        return DatabaseUrl(kind="sqlite", sqlite_path=Path(path), sqlite_max_pages=max_pages)
    if value.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError:
            problems.append("SIGNPOST_DATABASE_URL is not a valid postgresql:// URL")
            return DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3")
        if not parts.hostname or not parts.path.strip("/"):
            problems.append("SIGNPOST_DATABASE_URL must name a host and a database")
        return DatabaseUrl(kind="postgres", dsn=value)
    problems.append("SIGNPOST_DATABASE_URL must start with sqlite:/// or postgresql://")
    return DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3")


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise :class:`SettingsError` listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    env_name = _text(env, "SIGNPOST_ENV", "development", problems)
    if env_name not in ("development", "production"):
        problems.append("SIGNPOST_ENV must be 'development' or 'production'")
        env_name = "production"  # judge the rest by the stricter rules
    environment: Environment = "production" if env_name == "production" else "development"

    data_dir = Path(_text(env, "SIGNPOST_DATA_DIR", "var", problems))
    database = _parse_database_url(_text(env, "SIGNPOST_DATABASE_URL", "", problems), data_dir, problems)

    origin = _text(env, "SIGNPOST_ORIGIN", "http://localhost:8000", problems).rstrip("/")
    parts = urlsplit(origin)
    try:
        origin_host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        origin_host = ""
    if parts.scheme not in ("http", "https") or not origin_host or parts.path or parts.query:
        problems.append("SIGNPOST_ORIGIN must be a scheme and host only, e.g. https://signpost.example")
    elif environment == "production" and parts.scheme != "https" and not _is_local(origin_host):
        problems.append("SIGNPOST_ORIGIN must use https in production (localhost aside)")

    rp_id = _text(env, "SIGNPOST_RP_ID", origin_host or "localhost", problems).lower()
    if not _HOSTNAME.match(rp_id):
        problems.append("SIGNPOST_RP_ID must be a host name, e.g. signpost.example")
    elif origin_host and origin_host != rp_id and not origin_host.endswith("." + rp_id):
        problems.append("SIGNPOST_RP_ID must be the origin's host or a parent domain of it")

    extra_hosts = [
        h.strip().lower() for h in _text(env, "SIGNPOST_ALLOWED_HOSTS", "", problems).split(",") if h.strip()
    ]
    for host in extra_hosts:
        if not _HOSTNAME.match(host.removeprefix("*.")) and not _is_local(host):
            problems.append(f"SIGNPOST_ALLOWED_HOSTS has an entry that is not a host name: {host!r}")
    # The Host header carries the port when the origin has one; allow both forms.
    origin_hosts = [origin_host] if origin_host else []
    if origin_host and parts.port:
        origin_hosts.append(f"{origin_host}:{parts.port}")
    allowed = tuple(dict.fromkeys([*origin_hosts, *extra_hosts]))

    keys_dir = Path(_text(env, "SIGNPOST_KEYS_DIR", str(data_dir / "keys"), problems))
    if environment == "production":
        # Keys beside the database would be copied with it, undoing encryption at rest.
        if "SIGNPOST_KEYS_DIR" not in env:
            problems.append("SIGNPOST_KEYS_DIR must be set in production, outside the data directory")
        elif keys_dir.resolve().is_relative_to(data_dir.resolve()) or (
            database.sqlite_path is not None
            and keys_dir.resolve().is_relative_to(database.sqlite_path.resolve().parent)
        ):
            problems.append("SIGNPOST_KEYS_DIR must not be inside the data directory or beside the database")

    secret_key = env.get("SIGNPOST_SECRET_KEY")
    if secret_key is not None and (len(secret_key) < 32 or len(secret_key) > 512):
        problems.append("SIGNPOST_SECRET_KEY must be 32 to 512 characters long")
        secret_key = None
    if environment == "production" and not secret_key:
        problems.append("SIGNPOST_SECRET_KEY is required in production")

    debug_value = _text(env, "SIGNPOST_DEBUG", "0", problems).lower()
    if debug_value not in ("0", "1", "true", "false", "yes", "no"):
        problems.append("SIGNPOST_DEBUG must be 0 or 1")
    debug = debug_value in ("1", "true", "yes")
    for name in DEVELOPMENT_ONLY:
        if environment == "production" and env.get(name, "0").lower() in ("1", "true", "yes"):
            problems.append(f"{name} is a development-only setting and is refused in production")

    allow_none = _text(env, "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION", "0", problems).lower() in (
        "1",
        "true",
        "yes",
    )
    aaguids = {
        a.strip().lower() for a in _text(env, "SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS", "", problems).split(",")
    }
    aaguid_file = env.get("SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS_FILE")
    if aaguid_file:
        try:
            aaguids |= {
                line.split("#")[0].strip().lower()
                for line in Path(aaguid_file).read_text("utf-8").splitlines()
            }
        except (OSError, UnicodeDecodeError):
            problems.append("SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS_FILE cannot be read")
    aaguids.discard("")
    for aaguid in sorted(aaguids):
        if not _AAGUID.match(aaguid):
            problems.append(f"allowed AAGUID {aaguid[:40]!r} is not a UUID")
    if environment == "production" and not aaguids:
        problems.append(
            "production needs the security-key models it accepts: set SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS"
        )
    roots: list[bytes] = []
    roots_file = env.get("SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS")
    if roots_file:
        try:
            pem = Path(roots_file).read_bytes()
        except OSError:
            problems.append("SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS cannot be read")
        else:
            try:
                certificates = x509.load_pem_x509_certificates(pem)
            except ValueError:
                certificates = []
            roots = [c.public_bytes(serialization.Encoding.PEM) for c in certificates]
            if not roots:
                problems.append("SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS holds no valid PEM certificate")

    if environment == "production" and not roots:
        problems.append(
            "production needs the roots that key attestations chain to: "
            "set SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS"
        )

    proxies = tuple(
        p.strip() for p in _text(env, "SIGNPOST_TRUSTED_PROXIES", "", problems).split(",") if p.strip()
    )
    for proxy in proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            problems.append(
                f"SIGNPOST_TRUSTED_PROXIES has an entry that is not an IP address: {proxy[:40]!r}"
            )

    checkpoint_dir = Path(
        _text(env, "SIGNPOST_AUDIT_CHECKPOINT_DIR", str(data_dir / "checkpoints"), problems)
    )
    checkpoint_rows = _whole_number(env, "SIGNPOST_AUDIT_CHECKPOINT_ROWS", 1000, 1, 1_000_000, problems)
    checkpoint_minutes = _whole_number(env, "SIGNPOST_AUDIT_CHECKPOINT_MINUTES", 5, 1, 1440, problems)
    searches_per_hour = _whole_number(env, "SIGNPOST_QUOTA_SEARCHES_PER_HOUR", 60, 1, 100_000, problems)
    views_per_day = _whole_number(env, "SIGNPOST_QUOTA_VIEWS_PER_DAY", 200, 1, 1_000_000, problems)
    api_searches_per_hour = _whole_number(
        env, "SIGNPOST_QUOTA_API_SEARCHES_PER_HOUR", 2_000, 1, 10_000_000, problems
    )
    api_views_per_day = _whole_number(
        env, "SIGNPOST_QUOTA_API_VIEWS_PER_DAY", 20_000, 1, 100_000_000, problems
    )
    sar_requests = _whole_number(env, "SIGNPOST_SUBJECT_ACCESS_REQUESTS_PER_HOUR", 5, 1, 10_000, problems)
    sar_tries = _whole_number(env, "SIGNPOST_SUBJECT_ACCESS_TRIES_PER_HOUR", 20, 1, 10_000, problems)
    access_hours = _whole_number(env, "SIGNPOST_DISCLOSURE_ACCESS_HOURS", 72, 1, 720, problems)
    decision_hours = _whole_number(env, "SIGNPOST_DISCLOSURE_DECISION_HOURS", 72, 1, 720, problems)
    urgent_hours = _whole_number(env, "SIGNPOST_DISCLOSURE_URGENT_DECISION_HOURS", 4, 1, 72, problems)
    disclosure_requests = _whole_number(env, "SIGNPOST_DISCLOSURE_REQUESTS_PER_DAY", 10, 1, 1000, problems)
    invite_months = _whole_number(env, "SIGNPOST_CONSENT_INVITE_MONTHS", 6, 1, 12, problems)
    consent_tries = _whole_number(env, "SIGNPOST_CONSENT_TRIES_PER_HOUR", 60, 1, 10_000, problems)
    audit_log_name = _text(env, "SIGNPOST_AUDIT_LOG_NAME", f"{rp_id}/signpost-audit", problems)
    if not _LOG_NAME.match(audit_log_name):
        problems.append("SIGNPOST_AUDIT_LOG_NAME must be a host name and path, e.g. signpost.example/audit")

    log_level = _text(env, "SIGNPOST_LOG_LEVEL", "INFO", problems).upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append("SIGNPOST_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        log_level = "INFO"

    if problems:
        raise SettingsError(problems)
    return Settings(
        env=environment,
        data_dir=data_dir,
        database=database,
        origin=origin,
        rp_id=rp_id,
        allowed_hosts=allowed,
        keys_dir=keys_dir,
        secret_key=secret_key,
        debug=debug,
        log_level=log_level,
        trusted_proxies=proxies,
        allow_none_attestation=allow_none and environment == "development",
        allowed_aaguids=frozenset(aaguids),
        attestation_roots=tuple(roots),
        checkpoint_dir=checkpoint_dir,
        checkpoint_rows=checkpoint_rows,
        checkpoint_minutes=checkpoint_minutes,
        audit_log_name=audit_log_name,
        searches_per_hour=searches_per_hour,
        views_per_day=views_per_day,
        api_searches_per_hour=api_searches_per_hour,
        api_views_per_day=api_views_per_day,
        subject_access_requests_per_hour=sar_requests,
        subject_access_tries_per_hour=sar_tries,
        disclosure_access_hours=access_hours,
        disclosure_decision_hours=decision_hours,
        disclosure_urgent_decision_hours=urgent_hours,
        disclosure_requests_per_day=disclosure_requests,
        consent_invite_months=invite_months,
        consent_tries_per_hour=consent_tries,
    )
