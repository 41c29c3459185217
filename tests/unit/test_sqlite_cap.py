"""The SQLite size cap (``?max_page_count=N``) on the engine's connections: a setting that
answers with a row must not leave the connection on an old snapshot, or its next write fails with
SQLITE_BUSY_SNAPSHOT as soon as another connection has committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.database import KeptSQLiteEngine


def make_file(path: Path) -> None:
    with sqlite3.connect(path) as database:
        database.execute("PRAGMA journal_mode = WAL")
        database.execute("CREATE TABLE t (x INTEGER)")


def commit_elsewhere(path: Path, value: int) -> None:
    with sqlite3.connect(path) as other:
        other.execute("INSERT INTO t VALUES (?)", (value,))


async def test_a_capped_transaction_writes_after_another_connection_commits(tmp_path: Path) -> None:
    path = tmp_path / "capped.db"
    make_file(path)
    engine = KeptSQLiteEngine(path=str(path), max_page_count=10_000)
    connection = await engine.get_connection()  # the settings, the cap too, applied here
    try:
        commit_elsewhere(path, 1)
        await connection.execute("BEGIN IMMEDIATE")
        await connection.execute("INSERT INTO t VALUES (2)")
        await connection.execute("COMMIT")
        async with connection.execute("PRAGMA max_page_count") as cursor:
            assert (await cursor.fetchone())["max_page_count"] == 10_000
    finally:
        await connection.close()


async def test_capped_single_statements_and_reads_see_the_latest_commit(tmp_path: Path) -> None:
    path = tmp_path / "capped.db"
    make_file(path)
    engine = KeptSQLiteEngine(path=str(path), max_page_count=10_000)
    try:
        assert await engine._run_in_new_connection("SELECT COUNT(*) AS n FROM t") == [{"n": 0}]
        commit_elsewhere(path, 1)
        await engine._run_in_new_connection("INSERT INTO t VALUES (2)")
        commit_elsewhere(path, 3)
        rows = await engine._run_in_new_connection("SELECT x FROM t ORDER BY x")
        assert [r["x"] for r in rows] == [1, 2, 3]
    finally:
        await engine.close_connections()
