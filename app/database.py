"""The database engine, Signpost's migrations, and the checks that guard starting the service.

Piccolo owns the schema and its migrations (the top-level ``migrations/`` folder). The same
tables run on an embedded SQLite file or on PostgreSQL, chosen by ``SIGNPOST_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import os
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import aiosqlite
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.query.base import Query
from piccolo.querystring import QueryString

import app.piccolo_conf
from app.api.tables import API_TABLES
from app.audit.tables import AUDIT_TABLES
from app.consent.tables import CONSENT_TABLES
from app.disclosure.tables import DISCLOSURE_TABLES
from app.feeds.tables import FEED_TABLES
from app.identity.tables import IDENTITY_TABLES
from app.involvement.tables import INVOLVEMENT_TABLES
from app.piccolo_app import APP_CONFIG, MIGRATIONS_DIR
from app.records.tables import TABLES
from app.search.tables import SEARCH_TABLES
from app.settings import DatabaseUrl
from app.subject_access.tables import SUBJECT_ACCESS_TABLES

ALL_TABLES = [
    *TABLES,
    *IDENTITY_TABLES,
    *AUDIT_TABLES,
    *SEARCH_TABLES,
    *INVOLVEMENT_TABLES,
    *SUBJECT_ACCESS_TABLES,
    *DISCLOSURE_TABLES,
    *CONSENT_TABLES,
    *FEED_TABLES,
    *API_TABLES,
]
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


Statement = Query[Any, Any] | QueryString | str


class Tx(Protocol):
    """How a write unit runs its queries: every one inside the unit's single transaction.

    ``run`` takes a Piccolo query, a Piccolo ``QueryString`` (SQL with ``{}`` for each bound
    value, for the statements the ORM cannot write), or a raw statement without values; it
    returns the rows as plain dicts.
    """

    async def run(self, query: Statement) -> list[dict[str, Any]]: ...


T = TypeVar("T")
WriteUnit = Callable[[Tx], Coroutine[Any, Any, T]]


class _OrmTx:
    """Runs queries the ordinary Piccolo way, inside the transaction open on this task."""

    def __init__(self, engine: AnyEngine) -> None:
        self.engine = engine

    async def run(self, query: Statement) -> list[dict[str, Any]]:
        if isinstance(query, str):
            return list(await self.engine.run_ddl(query) or [])
        if isinstance(query, QueryString):
            return [dict(row) for row in await self.engine.run_querystring(query) or []]
        return list(await query.run())


class _SQLiteTx:
    """Runs queries at once on the writer thread's connection (see :class:`KeptSQLiteEngine`)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    async def run(self, query: Statement) -> list[dict[str, Any]]:
        if isinstance(query, str):
            statements: list[tuple[str, list[Any]]] = [(query, [])]
        elif isinstance(query, QueryString):
            statements = [query.compile_string(engine_type="sqlite")]
        else:
            statements = [qs.compile_string(engine_type="sqlite") for qs in query.querystrings]
        rows: list[dict[str, Any]] = []
        for sql, args in statements:
            rows = self.connection.execute(sql, args).fetchall()
        return rows


#: Pages of write-ahead log (4 KiB each) after which the writer folds it back itself.
WRITER_AUTOCHECKPOINT_PAGES = 10_000

#: Set on each kept connection. A page cache of 64 MiB (SQLite's default is 2 MiB) keeps the
#: upper levels of the 12-million-row tables and their indexes in memory. ``synchronous = FULL``
#: (said, not left to the build's default): in WAL mode each commit is synced to disk before it
#: is acknowledged, so a write a user saw succeed survives a power cut, not only a crash of the
#: process (docs/reliability.md).
KEPT_CONNECTION_PRAGMAS = (
    "PRAGMA foreign_keys = 1",
    "PRAGMA cache_size = -65536",
    "PRAGMA synchronous = FULL",
)


class WriteUnitError(RuntimeError):
    """A write unit awaited something other than its transaction's queries."""


async def _apply(connection: Any, pragmas: tuple[str, ...]) -> None:
    """Run each setting and read its answer to the end: a PRAGMA that answers with a row (as
    ``max_page_count`` does) would otherwise leave its statement open, pinning the connection
    to an old snapshot, so its next write fails with ``SQLITE_BUSY_SNAPSHOT``."""
    for pragma in pragmas:
        async with connection.execute(pragma) as cursor:
            await cursor.fetchall()


class _SQLiteTransaction(SQLiteTransaction):
    """Piccolo's transaction, but a failed write that SQLite has already rolled back itself (a
    full disk or a size cap does, on ``SQLITE_FULL``) leaves that error standing: the ROLLBACK
    that then finds no transaction must not replace it with one that reads as Signpost's fault."""

    async def rollback(self) -> None:
        if not self.connection.in_transaction:  # SQLite ended it itself: nothing to roll back
            self._rolled_back = True
            return
        await super().rollback()  # type: ignore[no-untyped-call]  # Piccolo declares no types


class KeptSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with two kept connections per process: one for reads, one for
    write units.

    Piccolo opens a new connection (and aiosqlite thread) for every statement outside a
    transaction, about 1.5 ms each here. A ``SELECT`` outside a transaction instead runs on a
    long-lived read connection per event loop (autocommit, so in WAL mode each one sees every
    commit before it).

    :func:`write_unit` runs a whole write transaction on one writer thread that keeps its own
    connection: ``BEGIN IMMEDIATE``, every query of the unit, ``COMMIT``, without returning to
    the event loop in between. SQLite has one writer at a time across all worker processes, so
    the write lock is held only as long as the writes themselves take, never while the event
    loop serves other requests; within a process, units queue on the thread in order.

    Everything else (transactions opened with :func:`write_transaction`, writes outside a
    transaction) goes Piccolo's own way.
    """

    def __init__(self, *, max_page_count: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Every connection's settings: the kept ones', and the size cap if the URL sets one.
        self.pragmas = KEPT_CONNECTION_PRAGMAS + (
            (f"PRAGMA max_page_count = {int(max_page_count)}",) if max_page_count else ()
        )
        self._readers: dict[int, Any] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._writer_connection: sqlite3.Connection | None = None
        self._turn: int | None = None  # the writers' lock file, open while the writer lives
        self._writer_thread: int | None = None

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return _SQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def get_connection(self) -> Any:
        """A connection for a Piccolo transaction, with the kept connections' settings."""
        connection = await super().get_connection()
        await _apply(connection, self.pragmas)
        return connection

    async def _reader(self) -> Any:
        loop = id(asyncio.get_running_loop())
        reader = self._readers.get(loop)
        if reader is None:
            reader = await aiosqlite.connect(**self.connection_kwargs)
            await _apply(reader, self.pragmas)
            reader.row_factory = dict_factory  # type: ignore[assignment]  # as Piccolo sets it
            self._readers[loop] = reader
        return reader

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        if threading.get_ident() == self._writer_thread:
            raise WriteUnitError("a write unit must run its queries with tx.run(...)")
        if query_type != "generic" or query.lstrip()[:6].upper() != "SELECT":
            return await self._write_in_new_connection(query, args)
        reader = await self._reader()
        # One trip to the reader's thread (statement and rows together), not three (execute,
        # fetch, close): on a warm cache the trips cost more than the query.
        try:
            return await reader.execute_fetchall(query, args or [])
        except Exception as exc:
            # A read that failed partway through its rows (a converter refusing a value) leaves
            # its cursor alive in the traceback's frames, and an unfinished statement keeps the
            # reader on that snapshot for as long as the error is held. Dropping those frames
            # closes the cursor now (tests/unit/test_sqlite_reader.py).
            raise exc.with_traceback(None) from None

    async def _write_in_new_connection(self, query: str, args: list[Any] | None) -> Any:
        """A statement outside a transaction that may write: Piccolo's own way (a connection
        of its own, committed at once), with every connection's settings, the size cap too."""
        async with aiosqlite.connect(**self.connection_kwargs) as connection:
            await _apply(connection, self.pragmas)
            connection.row_factory = dict_factory  # type: ignore[assignment]  # as Piccolo sets it
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                return await cursor.fetchall()

    async def write(self, unit: WriteUnit[T]) -> T:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signpost-writer")
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._write, unit)

    def _write(self, unit: WriteUnit[T]) -> T:
        """On the writer thread: the whole unit in one transaction, synchronously."""
        if self._turn is None:
            # Read-only is enough to lock, whoever created the file (a command run as another
            # user).
            self._turn = os.open(f"{self.path}-writers", os.O_RDONLY | os.O_CREAT, 0o644)
        if self._writer_connection is None:
            self._writer_connection = self._connect_writer()
            self._writer_thread = threading.get_ident()
        connection, turn = self._writer_connection, self._turn
        # Writer threads of every worker process take turns on a file lock first: the kernel
        # wakes the next one as soon as the lock is free, where SQLite's busy handler would
        # sleep and poll (1, 2, 5 ... 100 ms), unfairly, so that an unlucky write could wait a
        # second under load. BEGIN IMMEDIATE then finds the database free, unless a writer that
        # does not take turns (a sign-in, a command) holds it: then SQLite's busy timeout.
        fcntl.flock(turn, fcntl.LOCK_EX)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = _finish(unit(_SQLiteTx(connection)))
                connection.execute("COMMIT")
            except BaseException:
                self._roll_back(connection)
                raise
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)
        return result

    def _connect_writer(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory
        for pragma in self.pragmas:
            connection.execute(pragma).fetchall()  # read to the end: see _apply
        # Its commits leave copying the write-ahead log into the database (a stall of tens of
        # milliseconds with the write lock held) to the background work (checkpoint_wal),
        # unless the log grows past about 40 MiB without it.
        connection.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}")
        return connection

    def _roll_back(self, connection: sqlite3.Connection) -> None:
        """Roll back; a connection that cannot is dropped, so the next unit starts afresh."""
        with contextlib.suppress(sqlite3.Error):
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        if connection.in_transaction:
            self._writer_connection = None
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _close_writer(self) -> None:
        """On the writer thread, between units: close its connection and its lock file."""
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        turn, self._turn = self._turn, None
        if turn is not None:
            os.close(turn)

    async def checkpoint_wal(self) -> None:
        """Copy committed pages from the write-ahead log into the database, without waiting for
        or blocking readers and writers (a passive checkpoint, on a connection of its own)."""

        def passive() -> None:
            connection = sqlite3.connect(**self.connection_kwargs)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                connection.close()

        await asyncio.to_thread(passive)

    async def close_connections(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            await reader.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            # After any unit queued before it, on the thread that owns the connection.
            await asyncio.get_running_loop().run_in_executor(writer, self._close_writer)
            writer.shutdown()
            self._writer_thread = None


def _finish(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its queries complete at once) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise WriteUnitError("a write unit may await only its transaction's queries")


async def write_unit(engine: AnyEngine, unit: WriteUnit[T]) -> T:
    """Run ``unit`` in one write transaction and return its result; roll back if it raises.

    Inside a transaction already open on this task the unit joins it. Otherwise, on SQLite the
    unit runs on the writer thread (see :class:`KeptSQLiteEngine`), so it must await nothing
    but ``tx.run(...)``; on PostgreSQL it runs in an ordinary transaction.
    """
    if isinstance(engine, KeptSQLiteEngine) and engine.current_transaction.get() is None:
        return await engine.write(unit)
    async with write_transaction(engine):
        return await unit(_OrmTx(engine))


async def run(tx: Tx | None, query: Query[Any, Any]) -> list[dict[str, Any]]:
    """Run ``query`` in the write unit ``tx``, or the ordinary way when there is none."""
    if tx is not None:
        return await tx.run(query)
    return list(await query.run())


def make_engine(database: DatabaseUrl) -> AnyEngine:
    if database.kind == "sqlite":
        if database.sqlite_path is None:
            raise DatabaseError("no SQLite path")
        database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return KeptSQLiteEngine(
            path=str(database.sqlite_path),
            timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
            max_page_count=database.sqlite_max_pages,
        )
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
    "child_signpost_id": "CREATE UNIQUE INDEX IF NOT EXISTS child_signpost_id ON child (signpost_id)",
    "child_bidx_turns_18_id": (
        "CREATE INDEX IF NOT EXISTS child_bidx_turns_18_id ON child (bidx_turns_18, id)"
    ),
    "audit_entry_child_actor": (
        "CREATE INDEX IF NOT EXISTS audit_entry_child_actor ON audit_entry (child_id, actor_id, action, at)"
    ),
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


async def checkpoint_wal(engine: AnyEngine) -> None:
    """On SQLite, fold the write-ahead log into the database file (see KeptSQLiteEngine)."""
    if isinstance(engine, KeptSQLiteEngine):
        await engine.checkpoint_wal()


async def open_pool(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=POOL_MAX_SIZE)


async def close(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        if engine.pool is not None:
            await engine.close_connection_pool()
    elif isinstance(engine, KeptSQLiteEngine):
        await engine.close_connections()
