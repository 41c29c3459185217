"""The operator command: help everywhere, and one clear line (never a traceback) on bad input."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from app.cli import listening_socket
from tests.conftest import env_for, production_env

SIGNPOST = str(Path(sys.executable).parent / "signpost")
SUBCOMMANDS = [
    [],
    ["serve"],
    ["migrate"],
    ["seed"],
    ["check"],
    ["keys"],
    ["keys", "rotate"],
    ["keys", "init"],
    ["audit"],
    ["audit", "verify"],
    ["audit", "export"],
    ["audit", "checkpoint"],
    ["retention"],
    ["retention", "run"],
    ["import"],
    ["demo-feed"],
    ["backup"],
    ["restore"],
    ["api-clients"],
    ["api-clients", "register"],
]


def signpost(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIGNPOST, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert fragment in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "signpost")
def test_every_subcommand_has_help(words: list[str], tmp_path: Path) -> None:
    result = signpost(*words, "--help", env=env_for(tmp_path))
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_a_hostile_setting_stops_with_one_line(tmp_path: Path) -> None:
    env = env_for(tmp_path, SIGNPOST_DATABASE_URL="mysql://root@evil/x", SIGNPOST_ENV="prod")
    result = signpost("serve", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SIGNPOST_DATABASE_URL must start with" in result.stderr
    assert "SIGNPOST_ENV must be" in result.stderr


def test_production_without_secrets_refuses_to_serve(tmp_path: Path) -> None:
    env = env_for(tmp_path, SIGNPOST_ENV="production", SIGNPOST_ORIGIN="http://signpost.example")
    result = signpost("serve", env=env)
    assert result.returncode == 2
    assert "SIGNPOST_SECRET_KEY is required in production" in result.stderr
    assert "must use https in production" in result.stderr


def test_a_corrupt_key_file_stops_with_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "root-0001.key").write_text("this is not a key")
    result = signpost("serve", env=env_for(tmp_path))
    assert_one_clear_line(result, "root-0001.key is not valid base64")


def test_serve_refuses_pending_migrations(tmp_path: Path) -> None:
    result = signpost("serve", env=env_for(tmp_path))
    assert_one_clear_line(result, "migration(s) pending: run 'signpost migrate' first")


def test_serve_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    connection = sqlite3.connect(tmp_path / "signpost.sqlite3")
    with connection:
        connection.execute(
            "INSERT INTO migration (name, app_name, ran_on) "
            "VALUES ('signpost_2099_01_01t00_00_00_000000', 'signpost', '2099-01-01')"
        )
    connection.close()
    assert_one_clear_line(signpost("serve", env=env), "migrated by a newer Signpost")
    assert_one_clear_line(signpost("migrate", env=env), "newer Signpost")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = env_for(tmp_path, SIGNPOST_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert_one_clear_line(signpost("serve", env=env), "cannot reach the database")


def test_check_reports_what_is_wrong_and_then_passes(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    before = signpost("check", env=env)
    assert before.returncode == 1
    assert "migration(s) pending" in before.stdout
    assert "no root key" in before.stdout
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "50", env=env).returncode == 0
    after = signpost("check", env=env)
    assert after.returncode == 0, after.stdout
    assert "All checks passed." in after.stdout


def test_seed_is_refused_in_production(tmp_path: Path) -> None:
    assert_one_clear_line(signpost("seed", env=production_env(tmp_path)), "refused in production")


def test_users_create_prints_the_code_alone_on_its_last_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    args = ["--name", "Dee Admin", "--email", "dee@northshire.example.org", "--role", "la_admin"]
    where = ["--org", "Signpost team", "--authority", "Northshire Council"]
    created = signpost("users", "create", *args, *where, env=env)
    assert created.returncode == 0, created.stderr
    last = created.stdout.strip().splitlines()[-1]
    assert len(last.replace("-", "")) == 16
    assert last.replace("-", "").isalnum()
    again = signpost("users", "create", "--if-no-admin", *args, *where, env=env)
    assert again.returncode == 0
    assert "already exists" in again.stdout
    duplicate = signpost("users", "create", *args, *where, env=env)
    assert_one_clear_line(duplicate, "already has an account")
    bad = signpost(
        "users", "create", "--name", "<script>", "--email", "x", "--role", "police", *where, env=env
    )
    assert bad.returncode == 2
    assert "--name must be" in bad.stderr
    assert "--email must be" in bad.stderr


def test_audit_verify_passes_on_a_demo_database_and_names_a_tampered_row(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "20", env=env).returncode == 0
    where = ["--role", "la_admin", "--org", "Signpost team", "--authority", "Northshire Council"]
    for n in range(3):
        made = signpost(
            "users", "create", "--name", "Dee Admin", "--email", f"dee{n}@example.org", *where, env=env
        )
        assert made.returncode == 0, made.stderr
    signed = signpost("audit", "checkpoint", env=env)
    assert signed.returncode == 0, signed.stderr
    assert "Signed a checkpoint of 3 row(s)" in signed.stdout
    assert "Nothing new to sign" in signpost("audit", "checkpoint", env=env).stdout

    verified = signpost("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "rows 1 to 3 (3) chain correctly; 1 signed checkpoint(s) agree" in verified.stdout

    export = tmp_path / "audit.jsonl"
    assert signpost("audit", "export", "--output", str(export), env=env).returncode == 0
    lines = export.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    assert "dee0@example.org" not in export.read_text()
    assert signpost("audit", "verify", "--file", str(export), "--whole", env=env).returncode == 0
    export.write_text("\n".join(lines[:2]) + "\n")  # the newest row lost from the copy
    assert signpost("audit", "verify", "--file", str(export), env=env).returncode == 0
    assert_one_clear_line(signpost("audit", "verify", "--file", str(export), "--whole", env=env), "row 3:")
    since = signpost("audit", "export", "--since", "2", env=env)
    assert [json.loads(line)["seq"] for line in since.stdout.splitlines()] == [2, 3]
    assert_one_clear_line(signpost("audit", "export", "--since", "last tuesday", env=env), "--since must be")

    database = sqlite3.connect(tmp_path / "signpost.sqlite3")
    database.execute("DROP TRIGGER audit_entry_no_update")
    database.execute('UPDATE audit_entry SET detail = \'{"role":"police"}\' WHERE seq = 2')
    database.commit()
    database.close()
    tampered = signpost("audit", "verify", env=env)
    assert_one_clear_line(tampered, "row 2: has been changed")


def test_audit_verify_refuses_a_forged_checkpoint(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    args = ["--name", "Dee Admin", "--email", "dee@example.org", "--role", "la_admin"]
    made = signpost("users", "create", *args, "--org", "Team", "--authority", "Northshire Council", env=env)
    assert made.returncode == 0
    assert signpost("audit", "checkpoint", env=env).returncode == 0
    (checkpoint,) = (tmp_path / "checkpoints").glob("checkpoint-*.txt")
    checkpoint.write_text(checkpoint.read_text().replace("\n1\n", "\n2\n", 1))
    assert_one_clear_line(signpost("audit", "verify", env=env), "row 1: its checkpoint")


def test_keys_init_adds_a_missing_audit_signing_key_to_an_existing_deployment(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    first = signpost("keys", "init", env=env)
    assert first.returncode == 0, first.stderr
    assert "Created root key" in first.stdout
    assert "Created audit signing key" in first.stdout
    keys = tmp_path / "keys"
    (keys / "audit-signing.key").unlink()  # a deployment from before the audit trail
    root = (keys / "root-0001.key").read_bytes()
    upgraded = signpost("keys", "init", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Created root key" not in upgraded.stdout
    assert "Created audit signing key" in upgraded.stdout
    assert (keys / "root-0001.key").read_bytes() == root
    assert_one_clear_line(signpost("keys", "init", env=env), "already holds both keys")


def test_connections_to_several_workers_send_without_delay() -> None:
    """Every connection a worker accepts has Nagle's algorithm off, or a response's body waits
    for the acknowledgement of its headers (40 ms on Linux)."""
    config = uvicorn.Config("app.main:asgi_app", factory=True, host="127.0.0.1", port=0, workers=2)
    listener = listening_socket(config)
    listener.listen()
    try:
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        listener.close()


def test_retention_run_prints_a_summary_and_refuses_a_bad_date(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    seeded = signpost("seed", "--children", "400", "--as-of", "2026-11-25", "--no-progress", env=env)
    assert seeded.returncode == 0, seeded.stderr
    dry = signpost("retention", "run", "--today", "2026-11-25", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout
    would = int(re.search(r"would invite (\d+)", dry.stdout).group(1))  # type: ignore[union-attr]
    assert would > 0  # 400 children born over 18 years: some are over 17 and a half
    first = signpost("retention", "run", "--today", "2026-11-25", env=env)
    assert first.returncode == 0, first.stderr
    assert "every record (the first run" in first.stdout
    assert f"invited {would} young people" in first.stdout
    again = signpost("retention", "run", "--today", "2026-11-25", env=env)
    assert "invited 0 young people" in again.stdout
    assert "deleted 0 record(s)" in again.stdout
    later = signpost("retention", "run", "--today", "2027-05-25", env=env)
    deleted = int(re.search(r"deleted (\d+) record", later.stdout).group(1))  # type: ignore[union-attr]
    assert deleted > 0  # six months on, those invited have turned 18 without answering
    assert_one_clear_line(
        signpost("retention", "run", "--today", "25/11/2026", env=env), "--today must be a date"
    )


def test_a_retention_run_leaves_a_run_still_going_to_finish(tmp_path: Path) -> None:
    import fcntl

    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    with (tmp_path / "retention.lock").open("a") as held:  # another run holds the lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        waiting = signpost("retention", "run", env=env)
    assert waiting.returncode == 0, waiting.stderr
    assert "Another retention run is still going" in waiting.stdout
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as database:
        assert database.execute("SELECT COUNT(*) FROM retention_run").fetchone() == (0,)
    after = signpost("retention", "run", env=env)
    assert "Retention run for" in after.stdout
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as database:
        assert database.execute("SELECT COUNT(*) FROM retention_run").fetchone() == (1,)


def test_production_refuses_a_future_retention_day_unless_it_is_a_dry_run(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    assert signpost("keys", "init", env=env).returncode == 0
    assert signpost("migrate", env=env).returncode == 0
    assert_one_clear_line(signpost("retention", "run", "--today", "2099-01-01", env=env), "before their time")
    dry = signpost("retention", "run", "--today", "2099-01-01", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout


def test_a_retention_run_killed_with_sigkill_leaves_records_whole_or_gone(tmp_path: Path) -> None:
    """A real kill -9 part-way through a run: every record is whole (all its rows) or gone (with
    exactly one tombstone), and the next run finishes the job."""
    import os
    import signal
    import time

    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    seeded = signpost("seed", "--children", "6000", "--as-of", "2026-11-25", "--no-progress", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert signpost("retention", "run", "--today", "2026-11-25", env=env).returncode == 0
    database_file = tmp_path / "signpost.sqlite3"

    def snapshot() -> tuple[dict[int, int], set[int]]:
        """Each child's number of carer rows, and the children with a tombstone."""
        with sqlite3.connect(database_file) as database:
            carers = dict(
                database.execute(
                    "SELECT child.id, COUNT(carer.id) FROM child LEFT JOIN carer ON carer.child = child.id "
                    "GROUP BY child.id"
                ).fetchall()
            )
            stones = {
                row[0]
                for row in database.execute(
                    "SELECT child_id FROM audit_entry WHERE action = 'retention.deleted'"
                )
            }
        return carers, stones

    before, _ = snapshot()
    # Six years on, a third of the children have turned 18 without answering.
    process = subprocess.Popen(
        [SIGNPOST, "retention", "run", "--today", "2032-11-25", "--batch-size", "20"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not snapshot()[1]:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL  # killed, not finished

    after, stones = snapshot()
    gone = set(before) - set(after)
    assert gone  # the kill came part-way: some records went ...
    assert gone == stones  # ... each with its tombstone, and no tombstone without its deletion
    assert all(after[child] == before[child] for child in after)  # the rest are whole
    finished = signpost("retention", "run", "--today", "2032-11-25", env=env)
    assert finished.returncode == 0, finished.stderr
    deleted = int(re.search(r"deleted (\d+) record", finished.stdout).group(1))  # type: ignore[union-attr]
    assert deleted > 0  # the next run finished the job
    final, final_stones = snapshot()
    assert set(before) - set(final) == final_stones
    with sqlite3.connect(database_file) as database:
        assert database.execute(
            "SELECT COUNT(*) FROM carer WHERE child NOT IN (SELECT id FROM child)"
        ).fetchone() == (0,)


def test_import_loads_the_demo_feed_and_rejects_a_bad_one_with_lines_and_columns(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    assert signpost("seed", "--children", "300", "--seed", "3", "--no-progress", env=env).returncode == 0
    feed = tmp_path / "feed.csv"
    made = signpost("demo-feed", str(feed), "--rows", "20", env=env)
    assert made.returncode == 0, made.stderr
    assert "Wrote 20 row(s)" in made.stdout
    loaded = signpost("import", "--source", "demo-census", str(feed), "--no-progress", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "Imported 20 row(s):" in loaded.stdout
    queued = int(re.search(r"(\d+) row\(s\) waiting for review", loaded.stdout).group(1))  # type: ignore[union-attr]
    assert queued >= 1  # the demo feed's typo, at least
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as database:
        children = database.execute("SELECT COUNT(*) FROM child").fetchone()[0]
        sources = database.execute("SELECT COUNT(*) FROM child WHERE source = 'demo-census'").fetchone()[0]
    assert sources > 0

    lines = feed.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",female,", ",f,").replace(",male,", ",m,")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "\n".join([lines[0].replace("gender", "gender,notes"), *lines[1:]]) + "\n", encoding="utf-8"
    )
    refused = signpost("import", "--source", "demo-census", str(bad), env=env)
    assert refused.returncode == 1
    assert "Rejected: nothing was imported" in refused.stdout
    assert "line 1, column notes: Free-text columns are not accepted" in refused.stdout
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused = signpost("import", "--source", "demo-census", str(bad), env=env)
    assert refused.returncode == 1
    assert "line 4, column gender: Use female, male, other or not_specified" in refused.stdout
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as database:
        assert database.execute("SELECT COUNT(*) FROM child").fetchone()[0] == children
    assert_one_clear_line(
        signpost("import", "--source", "Bad Source", str(feed), env=env), "--source must be"
    )


def test_api_clients_register_prints_a_secret_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    made = signpost(
        "users", "create", "--name", "Ada Okafor", "--email", "ada@riverside.example.org",
        "--role", "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council",
        env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    registered = signpost(
        "api-clients", "register", "--name", "Riverside MIS", "--org", "Riverside Primary School",
        "--authority", "Northshire Council", env=env,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    secret = registered.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"spk_[A-Za-z0-9_-]{43}", secret)
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as database:
        stored = database.execute("SELECT name, secret_hash, created_by FROM api_client").fetchall()
        audited = database.execute(
            "SELECT actor_kind FROM audit_entry WHERE action = 'api_client.registered'"
        )
        assert audited.fetchall() == [("operator",)]
    assert stored == [("Riverside MIS", hashlib.sha256(secret.encode()).hexdigest(), None)]
    assert_one_clear_line(
        signpost("api-clients", "register", "--name", "X", "--org", "Nowhere School", "--authority",
                 "Northshire Council", env=env),
        "no such organisation",
    )  # fmt: skip
    assert_one_clear_line(
        signpost("api-clients", "register", "--name", "<b>", "--org", "Riverside Primary School",
                 "--authority", "Northshire Council", env=env),
        "--name must be",
    )  # fmt: skip
