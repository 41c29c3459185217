"""``signpost seed``: synthetic local authorities, settings, practices and children at any scale.

Workers generate and encrypt batches (app/seed/generator.py); this process writes them with the
database driver's bulk path (``executemany`` on SQLite, ``COPY`` on PostgreSQL), one transaction
per batch, so memory stays constant however many children are asked for. Table and column names
come from the Piccolo tables, so the bulk path cannot drift from the schema.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

import asyncpg
from piccolo.table import Table

from app.database import SQLITE_BUSY_TIMEOUT_SECONDS
from app.records.ids import row_ids
from app.records.tables import (
    Carer,
    Child,
    EducationSetting,
    FormerName,
    GpPractice,
    Involvement,
    LocalAuthority,
)
from app.seed import names
from app.seed.generator import (
    AuthorityContext,
    BatchJob,
    BatchRows,
    SeedPlan,
    column_names,
    init_worker,
    run_job,
)
from app.settings import DatabaseUrl

CHILDREN_PER_SCHOOL = 300
CHILDREN_PER_GP_PRACTICE = 1500
#: A bulk load into an empty database at least this large builds its indexes at the end.
DEFER_INDEXES_FROM = 100_000
BULK_TABLES: tuple[type[Table], ...] = (Child, FormerName, Carer, Involvement)


class SeedError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SeedResult:
    children: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.children / self.seconds if self.seconds else 0.0


def authority_code(seed: int, number: int) -> str:
    return f"S{seed % 1000:03d}{number:05d}"


async def ensure_authorities(seed: int, count: int, children: int) -> list[AuthorityContext]:
    """Create (or reuse) the seed's authorities with their schools and GP practices."""
    rng = random.Random(f"signpost-seed-authorities:{seed}")
    per_authority = max(1, children // count)
    contexts = []
    for number in range(count):
        code = authority_code(seed, number)
        stem = names.AUTHORITY_STEMS[number % len(names.AUTHORITY_STEMS)]
        suffix = "" if number < len(names.AUTHORITY_STEMS) else f" {number // len(names.AUTHORITY_STEMS) + 1}"
        name = f"{stem}{suffix} Council"
        # By code, or by name: an operator may have made the authority already (``users create
        # --authority NAME``), and two authorities of one name look alike to citizens choosing one.
        existing = (
            await LocalAuthority.select(LocalAuthority.id)
            .where((LocalAuthority.code == code) | (LocalAuthority.name == name))
            .run()
        )
        if existing:
            authority_id = existing[0]["id"]
        else:
            authority_id = row_ids.next()
            await LocalAuthority.insert(
                LocalAuthority(
                    id=authority_id,
                    code=code,
                    name=name,
                    team_telephone=f"01632 960 {number % 1000:03d}",
                    team_email=f"signpost@{stem.lower()}{number}.example.org",
                )
            ).run()
        towns = tuple(rng.sample(names.TOWNS, 4))
        schools = await _ensure_places(
            EducationSetting, authority_id, max(1, per_authority // CHILDREN_PER_SCHOOL), towns, rng
        )
        gps = await _ensure_places(
            GpPractice, authority_id, max(1, per_authority // CHILDREN_PER_GP_PRACTICE), towns, rng
        )
        area = "".join(rng.choice("BCDEGHKLMNPRSTWY") for _ in range(2))
        contexts.append(AuthorityContext(authority_id, area, towns, schools, gps))
    return contexts


async def _ensure_places(
    table: type[EducationSetting] | type[GpPractice],
    authority_id: int,
    wanted: int,
    towns: tuple[str, ...],
    rng: random.Random,
) -> tuple[int, ...]:
    have = [r["id"] for r in await table.select(table.id).where(table.local_authority == authority_id).run()]
    new_rows: list[Any] = []
    for i in range(len(have), wanted):
        town = towns[i % len(towns)]
        if table is EducationSetting:
            label = f"{rng.choice(names.STREET_STEMS)} {rng.choice(names.SCHOOL_KINDS)}, {town}"
        else:
            label = f"{rng.choice(names.STREET_STEMS)} Medical Practice, {town}"
        new_rows.append(
            table(
                id=row_ids.next(),
                local_authority=authority_id,
                name=label,
                telephone=f"01632 960 {rng.randrange(1000):03d}",
            )
        )
    for start in range(0, len(new_rows), 500):
        await table.insert(*new_rows[start : start + 500]).run()
    return tuple(have + [row.id for row in new_rows])


def _jobs(seed: int, children: int, batch_size: int) -> Iterator[BatchJob]:
    for number, first in enumerate(range(0, children, batch_size)):
        yield BatchJob(seed=seed, number=number, first_index=first, count=min(batch_size, children - first))


class SqliteWriter:
    """Writes batches through one sqlite3 connection, a transaction per batch."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA cache_size=-4194304")  # 4 GiB of page cache while seeding
        self.connection.execute("PRAGMA temp_store=MEMORY")
        # A bulk load that is re-run after a crash: NORMAL keeps the file consistent on any crash
        # (WAL), and skips the per-commit fsync that FULL pays for durability of the last batch.
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.statements = {
            # Identifiers come from the Piccolo tables; every value is a bound parameter.
            table: "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
                table._meta.tablename,
                ", ".join(column_names(table)),
                ", ".join("?" for _ in column_names(table)),
            )
            for table in BULK_TABLES
        }

    def defer_indexes(self) -> list[str]:
        """Drop the blind-index indexes and the Signpost ID's unique index; return their DDL.

        Their keys are random, so keeping them up to date under millions of inserts touches pages
        all over the index; building them once at the end sorts the keys instead. (The indexes on
        child IDs stay: those IDs arrive in order, so keeping them up is cheap.)
        :meth:`restore_indexes` rebuilds them; should the process be
        killed first, ``signpost migrate`` and ``signpost serve`` rebuild any that are missing.
        """
        names = tuple(t._meta.tablename for t in BULK_TABLES)
        rows = self.connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
            "AND (name LIKE '%bidx%' OR name = 'child_signpost_id') "
            f"AND tbl_name IN ({', '.join('?' for _ in names)})",
            names,
        ).fetchall()
        for name, _ in rows:
            self.connection.execute(f'DROP INDEX "{name}"')
        return [sql for _, sql in rows]

    def restore_indexes(self, statements: list[str]) -> None:
        for statement in statements:
            for kind in ("CREATE UNIQUE INDEX", "CREATE INDEX"):
                if statement.startswith(kind):
                    statement = statement.replace(kind, f"{kind} IF NOT EXISTS", 1)
                    break
            self.connection.execute(statement)

    def empty(self) -> bool:
        return bool(self.connection.execute("SELECT NOT EXISTS (SELECT 1 FROM child)").fetchone()[0])

    def write(self, rows: BatchRows) -> None:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            for table, batch in zip(BULK_TABLES, _batches(rows), strict=True):
                if batch:
                    cursor.executemany(self.statements[table], batch)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.connection.close()


class PostgresWriter:
    """Writes batches with COPY through one asyncpg connection, a transaction per batch."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.loop = asyncio.new_event_loop()
        self.connection: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(dsn))

    async def _write(self, rows: BatchRows) -> None:
        async with self.connection.transaction():
            for table, batch in zip(BULK_TABLES, _batches(rows), strict=True):
                if batch:
                    await self.connection.copy_records_to_table(
                        table._meta.tablename, records=batch, columns=column_names(table)
                    )

    def write(self, rows: BatchRows) -> None:
        self.loop.run_until_complete(self._write(rows))

    def close(self) -> None:
        self.loop.run_until_complete(self.connection.close())
        self.loop.close()


def _batches(rows: BatchRows) -> tuple[list[tuple[Any, ...]], ...]:
    return rows.children, rows.former_names, rows.carers, rows.involvements


def seed_children(
    database: DatabaseUrl,
    plan: SeedPlan,
    *,
    seed: int,
    children: int,
    batch_size: int,
    workers: int,
    on_progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Generate ``children`` children in worker processes and write them in batches."""
    writer: SqliteWriter | PostgresWriter
    if database.kind == "sqlite" and database.sqlite_path is not None:
        writer = SqliteWriter(database.sqlite_path)
    elif database.dsn is not None:
        writer = PostgresWriter(database.dsn)
    else:
        raise SeedError("no database to seed")
    started = time.perf_counter()
    written = 0
    context = multiprocessing.get_context("fork")
    deferred: list[str] = []
    if isinstance(writer, SqliteWriter) and children >= DEFER_INDEXES_FROM and writer.empty():
        deferred = writer.defer_indexes()
    try:
        with context.Pool(processes=max(1, workers), initializer=init_worker, initargs=(plan,)) as pool:
            # At most two batches per worker in flight: memory stays constant at any size.
            pending: deque[AsyncResult[tuple[BatchJob, BatchRows]]] = deque()
            jobs = _jobs(seed, children, batch_size)
            for job in itertools.islice(jobs, 2 * max(1, workers)):
                pending.append(pool.apply_async(run_job, (job,)))
            while pending:
                job, rows = pending.popleft().get()
                next_job = next(jobs, None)
                if next_job is not None:
                    pending.append(pool.apply_async(run_job, (next_job,)))
                try:
                    writer.write(rows)
                except (sqlite3.IntegrityError, asyncpg.UniqueViolationError):
                    raise SeedError(
                        f"batch {job.number} clashes with children already stored; "
                        "was this seed already loaded? Use another --seed"
                    ) from None
                written += job.count
                if on_progress is not None:
                    on_progress(job.count)
    finally:
        if isinstance(writer, SqliteWriter):
            writer.restore_indexes(deferred)
        writer.close()
    return SeedResult(children=written, seconds=time.perf_counter() - started)


def make_plan(keys_dir: Path, authorities: list[AuthorityContext], as_of: date, source: str) -> SeedPlan:
    return SeedPlan(
        keys_dir=keys_dir,
        authorities=tuple(authorities),
        as_of=as_of,
        id_base=row_ids.next(),
        source=source,
    )
