"""The engine Signpost builds: on SQLite a long-lived read connection serves SELECTs outside
transactions; reads must still see every commit, and a transaction must still see its own writes."""

from __future__ import annotations

import asyncio

import pytest

from app.database import AnyEngine, ReaderSQLiteEngine, write_transaction
from app.records.tables import LocalAuthority
from tests.factories import make_authority


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
    if not isinstance(engine, ReaderSQLiteEngine):
        pytest.skip("SQLite only: PostgreSQL has its own pool")
    await LocalAuthority.select().run()
    await LocalAuthority.select().run()
    assert len(engine._readers) == 1
    await engine.close_readers()
    assert engine._readers == {}
    assert await LocalAuthority.select().run() == []  # opens a new one when needed
