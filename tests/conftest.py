"""Shared fixtures: settings, keys, and a migrated database on SQLite and on PostgreSQL.

Every test that takes ``engine`` runs twice, once per backend. PostgreSQL is used when it is
reachable at ``SIGNPOST_TEST_POSTGRES`` (default 127.0.0.1:5432, database ``test``); each test
session creates its own database there and drops it at the end. Where PostgreSQL cannot be
reached those runs are skipped and the summary says so; under CI (``CI`` set) they fail instead,
because CI's machine has PostgreSQL and silence there would hide a broken setup.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from piccolo.engine.postgres import PostgresEngine

from app import database
from app.audit import checkpoints
from app.crypto.keyring import Keyring
from app.database import ALL_TABLES, AnyEngine
from app.settings import DatabaseUrl, Settings, load_settings

POSTGRES_ADMIN_DSN = os.environ.get("SIGNPOST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")
_backend_runs: dict[str, int] = {"sqlite": 0, "postgres": 0}
_postgres_unreachable_reason: list[str] = []


def env_for(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        "SIGNPOST_ENV": "development",
        "SIGNPOST_DATA_DIR": str(data_dir),
        "SIGNPOST_ORIGIN": "http://testserver.local",
        "SIGNPOST_RP_ID": "testserver.local",
    }
    env.update(overrides)
    return env


def production_env(data_dir: Path, roots_pem: bytes | None = None, **overrides: str) -> dict[str, str]:
    """Everything production insists on, with a test attestation root."""
    from tests.softkey import TEST_AAGUID, AttestationCA

    roots = data_dir / "attestation-roots.pem"
    roots.write_bytes(roots_pem if roots_pem is not None else AttestationCA().pem)
    return env_for(
        data_dir,
        SIGNPOST_KEYS_DIR=str(data_dir.parent / f"{data_dir.name}-keys"),
        SIGNPOST_ENV="production",
        SIGNPOST_ORIGIN="https://signpost.example",
        SIGNPOST_RP_ID="signpost.example",
        SIGNPOST_SECRET_KEY="p" * 48,
        SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS=TEST_AAGUID,
        SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS=str(roots),
        **overrides,
    )


def make_settings(data_dir: Path, **overrides: str) -> Settings:
    return load_settings(env_for(data_dir, **overrides))


async def _postgres_available() -> bool:
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _postgres_unreachable_reason.append(f"{type(exc).__name__}: {exc}")
        return False
    await connection.close()
    return True


@pytest.fixture(scope="session")
async def postgres_dsn() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database for this test session, migrated; None when unreachable."""
    if not await _postgres_available():
        yield None
        return
    name = f"signpost_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    dsn = f"{base}/{name}"
    engine = PostgresEngine(config={"dsn": dsn})
    database.use_engine(engine)
    await database.migrate()
    yield dsn
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "signpost.sqlite3"
    engine = database.make_engine(DatabaseUrl(kind="sqlite", sqlite_path=path))
    database.use_engine(engine)
    database.prepare_sqlite_file(path)
    await database.migrate()
    await database.close(engine)  # the last connection closing folds the WAL into the file we copy
    return path


@pytest.fixture(params=BACKENDS)
async def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_dsn: str | None,
) -> AsyncIterator[DatabaseUrl]:
    """A migrated, empty database of each backend."""
    backend: str = request.param
    if backend == "sqlite":
        path = tmp_path / "data" / "signpost.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, path)
        _backend_runs["sqlite"] += 1
        yield DatabaseUrl(kind="sqlite", sqlite_path=path)
        return
    if postgres_dsn is None:
        reason = (
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_DSN} ({'; '.join(_postgres_unreachable_reason)})"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI requires it")
        pytest.skip(reason)
    connection = await asyncpg.connect(postgres_dsn)
    tables = ", ".join(t._meta.tablename for t in ALL_TABLES)
    # The audit table refuses TRUNCATE (migrations/..._22_43_00_...); a replica-role session
    # skips ordinary triggers, which only a superuser may ask for: the tests' user is one.
    await connection.execute("SET session_replication_role = replica")
    await connection.execute(f"TRUNCATE {tables} CASCADE")
    await connection.close()
    _backend_runs["postgres"] += 1
    yield DatabaseUrl(kind="postgres", dsn=postgres_dsn)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(data_dir: Path, db_url: DatabaseUrl) -> Settings:
    extra = {"SIGNPOST_DATABASE_URL": db_url.dsn} if db_url.kind == "postgres" and db_url.dsn else {}
    return make_settings(data_dir, **extra)


@pytest.fixture
def keyring(data_dir: Path) -> Keyring:
    return Keyring(data_dir / "keys", create=True)


@pytest.fixture
async def engine(db_url: DatabaseUrl) -> AsyncIterator[AnyEngine]:
    # No connection pool: the app under test runs in the test client's own event loop, and a
    # pool's connections belong to the loop that opened them. SQLite's read connection is
    # closed at the end.
    engine = database.make_engine(db_url)
    database.use_engine(engine)
    yield engine
    await database.close(engine)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    ran = [f"{name}: {count} database test run(s)" for name, count in _backend_runs.items()]
    terminalreporter.write_line("Database backends -- " + "; ".join(ran))
    if _backend_runs["postgres"] == 0 and _postgres_unreachable_reason:
        terminalreporter.write_line(
            "PostgreSQL tests did not run: start it with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'"
        )


@pytest.fixture
def app_factory(settings: Settings, keyring: Keyring, engine: AnyEngine) -> Any:
    """Build the real app (tests may add routes to it before starting a client)."""
    from app.main import create_app

    def build(**overrides: Any) -> Any:
        overrides.setdefault("background_tasks", False)  # tests sign checkpoints when they choose
        chosen = overrides.pop("settings", settings)
        if "audit_key" not in overrides:  # production settings never create one: make it here
            overrides["audit_key"] = checkpoints.load_signing_key(chosen.keys_dir, create=True)
        return create_app(chosen, keyring=keyring, engine=engine, **overrides)

    return build


@pytest.fixture
async def client(app_factory: Any, settings: Settings) -> AsyncIterator[Any]:
    from tests.pagecheck import CheckedClient

    async with CheckedClient(app=app_factory(), base_url=settings.origin) as test_client:
        yield test_client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's synchronous API keeps its own event loop running, which
    must not overlap the asyncio loop the database tests share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# Signed-in journeys through the web app (tests/identity_flow.py drives the security keys)

WEB_ORIGIN = "http://testserver.local"


def dev_settings_for(data_dir: Path, db_url: DatabaseUrl, **extra: str) -> Settings:
    """Development settings on this test's database that accept software security keys."""
    database_url = {"SIGNPOST_DATABASE_URL": db_url.dsn} if db_url.dsn else {}
    return load_settings(env_for(data_dir, SIGNPOST_DEV_ALLOW_NONE_ATTESTATION="1", **database_url, **extra))


@pytest.fixture
def clock() -> Any:
    from tests.identity_flow import FakeClock

    return FakeClock()


@pytest.fixture
def dev_settings(data_dir: Path, db_url: DatabaseUrl) -> Settings:
    return dev_settings_for(data_dir, db_url)


@pytest.fixture
async def web(app_factory: Any, dev_settings: Settings, clock: Any) -> AsyncIterator[Any]:
    """A client of the app on development settings and the test's clock."""
    from tests.pagecheck import CheckedClient

    async with CheckedClient(
        app=app_factory(settings=dev_settings, clock=clock), base_url=WEB_ORIGIN
    ) as client:
        yield client
