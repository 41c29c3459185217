"""The engine Signpost builds: on SQLite a long-lived read connection serves SELECTs outside
transactions, and write units run on a writer thread with a kept connection. Reads must still see
every commit, a transaction its own writes, and a write unit commits whole or not at all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from piccolo.querystring import QueryString

from app.audit import service as audit
from app.audit.tables import AuditEntry
from app.database import (
    AnyEngine,
    KeptSQLiteEngine,
    Tx,
    WriteUnit,
    WriteUnitError,
    write_transaction,
    write_unit,
)
from app.records.access import SHOWN_LATELY
from app.records.tables import LocalAuthority
from tests.factories import make_authority

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_reads_see_every_commit_and_transactions_their_own_writes(engine: AnyEngine) -> None:
    authority = await make_authority()
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Northshire Council"}]
    async with write_transaction(engine):
        await (
            LocalAuthority.update({LocalAuthority.name: "Renamed"})
            .where(LocalAuthority.id == authority)
            .run()
        )
        inside = await LocalAuthority.select(LocalAuthority.name).run()
        assert inside == [{"name": "Renamed"}]  # the transaction's own write
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Renamed"}]  # committed

    async def rename(n: int) -> None:
        async with write_transaction(engine):
            await (
                LocalAuthority.update({LocalAuthority.name: f"Name {n}"})
                .where(LocalAuthority.id == authority)
                .run()
            )

    for n in range(5):  # alternate writes on fresh connections with reads on the kept one
        await asyncio.gather(rename(n), LocalAuthority.select().run())
        assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": f"Name {n}"}]


async def test_sqlite_keeps_one_read_connection_and_closes_it(engine: AnyEngine) -> None:
    if not isinstance(engine, KeptSQLiteEngine):
        pytest.skip("SQLite only: PostgreSQL has its own pool")
    await LocalAuthority.select().run()
    await LocalAuthority.select().run()
    assert len(engine._readers) == 1
    await engine.close_connections()
    assert engine._readers == {}
    assert await LocalAuthority.select().run() == []  # opens a new one when needed


async def _audited_rename(tx: Tx, authority: int, name: str) -> list[int]:
    await tx.run(LocalAuthority.update({LocalAuthority.name: name}).where(LocalAuthority.id == authority))
    return await audit.append(tx, [audit.Entry("practitioner.created", audit.OPERATOR, T0)])


async def test_a_write_unit_commits_its_rows_together(engine: AnyEngine) -> None:
    authority = await make_authority()
    assert await write_unit(engine, lambda tx: _audited_rename(tx, authority, "Renamed")) == [1]
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Renamed"}]
    assert [r["seq"] for r in await AuditEntry.select(AuditEntry.seq).run()] == [1]


async def test_a_write_unit_that_fails_leaves_nothing(engine: AnyEngine) -> None:
    authority = await make_authority()

    async def half_done(tx: Tx) -> None:
        await _audited_rename(tx, authority, "Renamed")
        raise LookupError("the unit gives up after its writes")

    with pytest.raises(LookupError):
        await write_unit(engine, half_done)
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Northshire Council"}]
    assert await AuditEntry.count().run() == 0
    assert await write_unit(engine, lambda tx: _audited_rename(tx, authority, "Again")) == [1]


async def test_concurrent_write_units_keep_the_audit_chain_gapless(engine: AnyEngine) -> None:
    authority = await make_authority()

    def rename(n: int) -> WriteUnit[list[int]]:
        return lambda tx: _audited_rename(tx, authority, f"Name {n}")

    results = await asyncio.gather(*(write_unit(engine, rename(n)) for n in range(20)))
    assert sorted(seq for [seq] in results) == list(range(1, 21))
    rows = await AuditEntry.select().order_by(AuditEntry.seq).run()
    assert all(rows[n]["prev_hash"] == rows[n - 1]["entry_hash"] for n in range(1, 20))


async def test_a_write_unit_joins_a_transaction_already_open(engine: AnyEngine) -> None:
    authority = await make_authority()

    async def outer() -> None:
        async with write_transaction(engine):
            await write_unit(engine, lambda tx: _audited_rename(tx, authority, "Renamed"))
            raise LookupError("the outer transaction gives up")

    with pytest.raises(LookupError):
        await outer()
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Northshire Council"}]
    assert await AuditEntry.count().run() == 0


async def test_on_sqlite_a_write_unit_may_await_only_its_queries(engine: AnyEngine) -> None:
    if not isinstance(engine, KeptSQLiteEngine):
        pytest.skip("SQLite only: on PostgreSQL a unit is an ordinary transaction")
    authority = await make_authority()

    async def strays(tx: Tx) -> None:
        await _audited_rename(tx, authority, "Renamed")
        await LocalAuthority.select().run()  # through Piccolo, not the unit: refused

    with pytest.raises(WriteUnitError):
        await write_unit(engine, strays)
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Northshire Council"}]
    assert await AuditEntry.count().run() == 0
    await engine.close_connections()
    assert engine._writer is None
    assert await write_unit(engine, lambda tx: _audited_rename(tx, authority, "Reopened")) == [1]


async def test_opening_a_record_asks_the_audit_trail_through_one_index(engine: AnyEngine) -> None:
    """Whether a search showed a child to a practitioner lately: an index range, not a read of
    every entry about the child (``audit_entry_child_actor``, made by a migration)."""
    if isinstance(engine, KeptSQLiteEngine):
        names = await engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        names = await engine.run_ddl(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'audit_entry'"
        )
    indexes = {row["name"] for row in names}
    assert "audit_entry_child_actor" in indexes
    assert "audit_entry_child_id" not in indexes  # its prefix serves every query by child
    if isinstance(engine, KeptSQLiteEngine):
        sql = str(QueryString(SHOWN_LATELY, 1, 2, T0))  # the query may_open runs, values inlined
        plan = " ".join(str(row) for row in await engine.run_ddl(f"EXPLAIN QUERY PLAN {sql}"))
        assert "audit_entry_child_actor (child_id=? AND actor_id=? AND action=? AND at>?)" in plan


async def test_write_units_of_two_processes_take_turns(engine: AnyEngine) -> None:
    """Two engines on one SQLite file, as two worker processes have: each its own writer
    thread, connection and lock-file handle, so they take turns as processes do."""
    if not isinstance(engine, KeptSQLiteEngine):
        pytest.skip("SQLite only: on PostgreSQL the advisory lock serialises writers")
    other = KeptSQLiteEngine(path=engine.path, timeout=30)
    authority = await make_authority()

    def rename(n: int) -> WriteUnit[list[int]]:
        return lambda tx: _audited_rename(tx, authority, f"Name {n}")

    try:
        results = await asyncio.gather(
            *(write_unit(other if n % 2 else engine, rename(n)) for n in range(40))
        )
    finally:
        await other.close_connections()
    assert sorted(seq for [seq] in results) == list(range(1, 41))
    rows = await AuditEntry.select().order_by(AuditEntry.seq).run()
    assert all(rows[n]["prev_hash"] == rows[n - 1]["entry_hash"] for n in range(1, 40))
    assert Path(f"{engine.path}-writers").exists()
