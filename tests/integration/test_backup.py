"""``signpost backup`` and ``signpost restore`` and the drill, as an operator runs them, on SQLite
and on a PostgreSQL database of their own: the drill loses nothing; a tampered ciphertext, a
missing row or a backup older than the newest signed checkpoint fail the verification; a
database holding records is not restored over without --replace."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import POSTGRES_ADMIN_DSN, env_for
from tests.postgres_database import own_database, require_postgres

SIGNPOST = str(Path(sys.executable).parent / "signpost")
DRILL = str(Path(__file__).resolve().parents[2] / "scripts" / "backup_drill.py")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*args], env=env, capture_output=True, text=True, timeout=300, check=False)


def signpost(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(SIGNPOST, *args, env=env)


@pytest.fixture(params=["sqlite", "postgres"])
async def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_dsn: str | None
) -> AsyncIterator[dict[str, str]]:
    """A migrated deployment with demo children, sign-up audit rows and a signed checkpoint."""
    async with contextlib.AsyncExitStack() as stack:
        env = env_for(tmp_path / "data")
        if request.param == "postgres":
            require_postgres(postgres_dsn)
            env["SIGNPOST_DATABASE_URL"] = await stack.enter_async_context(
                own_database(POSTGRES_ADMIN_DSN, "signpost_drill")
            )
        yield await prepared(env)


async def prepared(env: dict[str, str]) -> dict[str, str]:
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "200", "--no-progress", env=env).returncode == 0
    made = signpost(
        "users", "create", "--name", "Ada Okafor", "--email", "ada@riverside.example.org", "--role",
        "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert signpost("retention", "run", env=env).returncode == 0
    assert signpost("audit", "checkpoint", env=env).returncode == 0
    return env


def test_the_drill_loses_nothing(deployment: dict[str, str], tmp_path: Path) -> None:
    drill = run(sys.executable, DRILL, str(tmp_path / "backup"), env=deployment)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "Everything matches the backup." in drill.stdout
    assert "Drill passed" in drill.stdout
    assert "200 children" in drill.stdout
    checked = signpost("audit", "verify", env=deployment)
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "backup" / "manifest.json").stat().st_mode & 0o077 == 0  # owner only


def test_restore_refuses_to_overwrite_records_without_replace(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    assert signpost("backup", str(tmp_path / "backup"), env=deployment).returncode == 0
    refused = signpost("restore", str(tmp_path / "backup"), env=deployment)
    assert refused.returncode == 1
    assert "--replace" in refused.stderr
    again = signpost("backup", str(tmp_path / "backup"), env=deployment)
    assert again.returncode == 1
    assert "not empty" in again.stderr
    replaced = signpost("restore", "--replace", str(tmp_path / "backup"), env=deployment)
    assert replaced.returncode == 0, replaced.stderr


def test_a_backup_older_than_the_newest_checkpoint_fails_until_its_newer_checkpoints_are_superseded(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    assert signpost("backup", str(tmp_path / "backup"), env=deployment).returncode == 0
    more = signpost(
        "users", "create", "--name", "Ben Ode", "--email", "ben@riverside.example.org", "--role",
        "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council",
        env=deployment,
    )  # fmt: skip
    assert more.returncode == 0
    assert signpost("audit", "checkpoint", env=deployment).returncode == 0
    restored = signpost("restore", "--replace", str(tmp_path / "backup"), env=deployment)
    assert restored.returncode == 1
    assert "audit trail" in restored.stderr  # the checkpoints prove rows are missing
    assert "--supersede-newer-checkpoints" in restored.stderr

    # A restore after a loss: the newer checkpoints move aside (kept), the loss is reported, and
    # the restored trail verifies and carries on.
    accepted = signpost(
        "restore", "--replace", "--supersede-newer-checkpoints", str(tmp_path / "backup"), env=deployment
    )
    assert accepted.returncode == 0, accepted.stderr
    assert "audited action(s) since the backup are lost" in accepted.stdout
    aside = list(Path(deployment["SIGNPOST_DATA_DIR"]).rglob("superseded-*"))
    assert len(aside) == 1
    assert list(aside[0].iterdir())  # the checkpoint that proves the loss is kept
    later = signpost(
        "users", "create", "--name", "Cy Dee", "--email", "cy@riverside.example.org", "--role",
        "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council",
        env=deployment,
    )  # fmt: skip
    assert later.returncode == 0
    assert signpost("audit", "checkpoint", env=deployment).returncode == 0
    verified = signpost("audit", "verify", env=deployment)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = signpost("audit", "export", env=deployment)
    recorded = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    [loss] = [row for row in recorded if row["action"] == "audit.checkpoints_superseded"]
    assert json.loads(loss["detail"])["signed_rows"] > json.loads(loss["detail"])["restored_rows"]


def test_a_tampered_or_incomplete_sqlite_backup_does_not_verify(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "50", "--no-progress", env=env).returncode == 0
    assert signpost("backup", str(tmp_path / "backup"), env=env).returncode == 0
    copy = tmp_path / "backup" / "signpost.sqlite3"
    with sqlite3.connect(copy) as database:
        [(child_id, blob)] = database.execute("SELECT id, given_name FROM child LIMIT 1").fetchall()
        flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
        database.execute("UPDATE child SET given_name = ? WHERE id = ?", (flipped, child_id))
    tampered = signpost("restore", "--replace", str(tmp_path / "backup"), env=env)
    assert tampered.returncode == 1
    assert f"child.given_name of row {child_id} failed authentication" in tampered.stderr
    with sqlite3.connect(copy) as database:
        database.execute("UPDATE child SET given_name = ? WHERE id = ?", (blob, child_id))
        database.execute("DELETE FROM carer WHERE id = (SELECT MIN(id) FROM carer)")
    short = signpost("restore", "--replace", str(tmp_path / "backup"), env=env)
    assert short.returncode == 1
    assert "table carer has" in short.stderr


def test_a_backup_the_keys_do_not_open_replaces_nothing(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "20", "--no-progress", env=env).returncode == 0
    assert signpost("backup", str(tmp_path / "backup"), env=env).returncode == 0
    elsewhere = env_for(tmp_path / "other")  # another deployment: other keys
    assert signpost("migrate", env=elsewhere).returncode == 0
    assert signpost("seed", "--children", "5", "--seed", "9", "--no-progress", env=elsewhere).returncode == 0
    before = (tmp_path / "other" / "signpost.sqlite3").read_bytes()
    refused = signpost("restore", "--replace", str(tmp_path / "backup"), env=elsewhere)
    assert refused.returncode == 1
    assert "these keys do not open the backup" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (tmp_path / "other" / "signpost.sqlite3").read_bytes() == before  # nothing was replaced


async def test_a_postgres_database_of_something_else_is_never_wiped(
    tmp_path: Path, postgres_dsn: str | None
) -> None:
    require_postgres(postgres_dsn)
    env = env_for(tmp_path / "data")
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("backup", str(tmp_path / "backup"), env=env).returncode == 0  # a SQLite backup
    async with own_database(POSTGRES_ADMIN_DSN, "signpost_other") as dsn:
        other = await asyncpg.connect(dsn)
        await other.execute("CREATE TABLE invoices (id int); INSERT INTO invoices VALUES (1)")
        await other.close()
        pg_env = {**env, "SIGNPOST_DATABASE_URL": dsn}
        wrong_kind = signpost("restore", "--replace", str(tmp_path / "backup"), env=pg_env)
        assert wrong_kind.returncode == 1
        assert "this is a sqlite backup" in wrong_kind.stderr
        manifest = tmp_path / "backup" / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"sqlite"', '"postgres"'))
        (tmp_path / "backup" / "signpost.pgdump").write_bytes(b"not a dump")
        refused = signpost("restore", "--replace", str(tmp_path / "backup"), env=pg_env)
        assert refused.returncode == 1
        assert "nothing was replaced" in refused.stderr
        other = await asyncpg.connect(dsn)
        assert await other.fetchval("SELECT COUNT(*) FROM invoices") == 1
        await other.close()
