"""The database engine, Signpost's migrations, and the checks that guard starting the service.

Piccolo owns the schema and its migrations (the top-level ``migrations/`` folder). The same
tables run on an embedded SQLite file or on PostgreSQL, chosen by ``SIGNPOST_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory

import app.piccolo_conf
from app.audit.tables import AUDIT_TABLES
from app.identity.tables import IDENTITY_TABLES
from app.involvement.tables import INVOLVEMENT_TABLES
from app.piccolo_app import APP_CONFIG, MIGRATIONS_DIR
from app.records.tables import TABLES
from app.search.tables import SEARCH_TABLES
from app.settings import DatabaseUrl

ALL_TABLES = [*TABLES, *IDENTITY_TABLES, *AUDIT_TABLES, *SEARCH_TABLES, *INVOLVEMENT_TABLES]
SQLITE_BUSY_TIMEOUT_SECONDS = 30

#: Piccolo's engines are generic in their transaction type; Signpost uses either.
AnyEngine = Engine[Any]

# Piccolo's migration machinery finds its configuration through this variable.
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")


class DatabaseError(Exception):
    """The database cannot be used; the message is one line, fit for an operator."""


@dataclass(frozen=True, slots=True)
class MigrationState:
    applied: list[str]
    pending: list[str]
    unknown: list[str]  # applied to the database but not known to this code: a newer version

    @property
    def current(self) -> bool:
        return not self.pending and not self.unknown


class ReaderSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, keeping one read connection open per event loop.

    Piccolo opens a new connection (and aiosqlite thread) for every statement outside a
    transaction, about 1.5 ms each here. A ``SELECT`` outside a transaction instead runs on a
    long-lived connection (autocommit, so in WAL mode each one sees every commit before it);
    everything else, and everything inside a transaction, goes Piccolo's own way.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._readers: dict[int, Any] = {}

    async def _reader(self) -> Any:
        loop = id(asyncio.get_running_loop())
        reader = self._readers.get(loop)
        if reader is None:
            reader = await aiosqlite.connect(**self.connection_kwargs)
            await reader.execute("PRAGMA foreign_keys = 1")
            reader.row_factory = dict_factory  # type: ignore[assignment]  # as Piccolo sets it
            self._readers[loop] = reader
        return reader

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        if query_type != "generic" or query.lstrip()[:6].upper() != "SELECT":
            return await super()._run_in_new_connection(query, args, query_type, table)
        reader = await self._reader()
        async with reader.execute(query, args or []) as cursor:
            return await cursor.fetchall()

    async def close_readers(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            await reader.close()


def make_engine(database: DatabaseUrl) -> AnyEngine:
    if database.kind == "sqlite":
        if database.sqlite_path is None:
            raise DatabaseError("no SQLite path")
        database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return ReaderSQLiteEngine(path=str(database.sqlite_path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    return PostgresEngine(config={"dsn": database.dsn})


def use_engine(engine: AnyEngine) -> None:
    """Bind every Signpost table, and Piccolo's migration table, to ``engine``."""
    app.piccolo_conf.DB = engine  # type: ignore[assignment]
    for table in [*ALL_TABLES, Migration]:
        table._meta.db = engine  # type: ignore[attr-defined]


def prepare_sqlite_file(path: Path) -> None:
    """Write-ahead logging, set once on the file: readers never block the writer."""
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def known_migrations() -> list[str]:
    modules = BaseMigrationManager().get_migration_modules(str(MIGRATIONS_DIR))
    return sorted(modules)


async def migration_state() -> MigrationState:
    try:
        if not await Migration.table_exists().run():
            applied: list[str] = []
        else:
            applied = await Migration.get_migrations_which_ran(app_name=APP_CONFIG.app_name)
    except Exception as exc:  # any driver error: report it in one line
        raise DatabaseError(f"cannot read the database: {type(exc).__name__}: {exc}") from None
    known = known_migrations()
    return MigrationState(
        applied=applied,
        pending=[m for m in known if m not in applied],
        unknown=[m for m in applied if m not in known],
    )


async def migrate() -> list[str]:
    """Apply every pending migration; return the IDs applied. Refuses a newer database."""
    state = await migration_state()
    if state.unknown:
        raise DatabaseError(
            "the database was migrated by a newer Signpost "
            f"({len(state.unknown)} unknown migration(s)); upgrade Signpost first"
        )
    if not state.pending:
        await ensure_indexes()
        return []
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo narrates with emoji; we report
        result = await ForwardsMigrationManager(app_name=APP_CONFIG.app_name).run()
    if not result.success:
        raise DatabaseError(f"migration failed: {result.message}")
    await ensure_indexes()
    return state.pending


#: Indexes made by raw SQL in migrations/ (Piccolo declares no named unique indexes).
RAW_INDEXES = {
    "child_signpost_id": "CREATE UNIQUE INDEX IF NOT EXISTS child_signpost_id ON child (signpost_id)"
}


async def ensure_indexes() -> list[str]:
    """Create any declared index that is missing (e.g. after an interrupted bulk load)."""
    created = []
    engine = ALL_TABLES[0]._meta.db
    for name, statement in RAW_INDEXES.items():
        await engine.run_ddl(statement)
        created.append(name)
    for table in ALL_TABLES:
        for column in table._meta.columns:
            if column._meta.index:
                await table.create_index([column], if_not_exists=True).run()  # type: ignore[no-untyped-call]
                created.append(table._get_index_name([column._meta.db_column_name]))
    return created


def write_transaction(engine: AnyEngine) -> Any:
    """A transaction that takes the write lock at once on SQLite (no upgrade deadlocks)."""
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def ping(engine: AnyEngine) -> bool:
    try:
        await engine.run_ddl("SELECT 1")
    except Exception:  # any driver error means "not reachable"
        return False
    return True


#: Connections per worker process; several workers share one PostgreSQL server.
POOL_MAX_SIZE = 10


async def open_pool(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=POOL_MAX_SIZE)


async def close(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        if engine.pool is not None:
            await engine.close_connection_pool()
    elif isinstance(engine, ReaderSQLiteEngine):
        await engine.close_readers()
