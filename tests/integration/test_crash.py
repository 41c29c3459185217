"""Crash safety of the real server under SIGKILL, on SQLite and PostgreSQL (tests/crash_harness.py).
``SIGNPOST_CRASH_ROUNDS`` sets the rounds per backend (3 in the test command; docs/reliability.md
records a run of 50)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import POSTGRES_ADMIN_DSN
from tests.crash_harness import run_harness
from tests.postgres_database import own_database, require_postgres

ROUNDS = int(os.environ.get("SIGNPOST_CRASH_ROUNDS", "3"))


async def test_nothing_acknowledged_is_lost_on_sqlite(tmp_path: Path) -> None:
    outcome = await run_harness(ROUNDS, tmp_path / "data", seed=11)
    assert outcome.rounds == ROUNDS
    assert outcome.acknowledged > ROUNDS  # writes really were in flight
    assert outcome.ok, outcome.problems


async def test_nothing_acknowledged_is_lost_on_postgres(tmp_path: Path, postgres_dsn: str | None) -> None:
    require_postgres(postgres_dsn)
    async with own_database(POSTGRES_ADMIN_DSN, "signpost_crash") as dsn:
        outcome = await run_harness(ROUNDS, tmp_path / "data", dsn, seed=12)
    assert outcome.rounds == ROUNDS
    assert outcome.acknowledged > ROUNDS
    assert outcome.ok, outcome.problems
