"""The kept SQLite reader: a read that fails partway through its rows must not leave the
connection on that read's snapshot, or every later read in the worker misses new commits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.database import KeptSQLiteEngine


async def test_a_read_that_fails_partway_leaves_the_reader_on_the_latest_commit(tmp_path: Path) -> None:
    path = tmp_path / "reader.db"
    with sqlite3.connect(path) as database:
        database.execute("PRAGMA journal_mode = WAL")
        database.execute("CREATE TABLE t (x INTEGER, d DATE)")
        database.execute("INSERT INTO t VALUES (1, '2026-01-01'), (2, 'not a date')")
    engine = KeptSQLiteEngine(path=str(path))
    try:
        with pytest.raises(ValueError, match="Invalid isoformat") as failed:  # the DATE converter, row 2
            await engine._run_in_new_connection("SELECT x, d FROM t ORDER BY x")
        with sqlite3.connect(path) as other:
            other.execute("INSERT INTO t VALUES (3, '2026-01-02')")
        rows = await engine._run_in_new_connection("SELECT x FROM t ORDER BY x")
        # The error is still held (as a handler or a log record may hold it) while reading on.
        assert failed.value is not None
        assert [r["x"] for r in rows] == [1, 2, 3]
    finally:
        await engine.close_connections()
