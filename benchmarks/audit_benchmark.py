"""Audit benchmarks: audited-write throughput, and the time to verify a long trail.

``throughput`` appends rows through the real audit service (``app.audit.service.record``, one
transaction per row, the chain head read under the writer lock) from several concurrent
writers, on a fresh SQLite file or PostgreSQL database::

    .venv/bin/python benchmarks/audit_benchmark.py throughput --backend sqlite --rows 20000
    .venv/bin/python benchmarks/audit_benchmark.py throughput --backend postgres --rows 20000

``verify`` fills a fresh database with a valid chain of ``--rows`` rows and a signed checkpoint
every 1,000 rows (the default), then times the real ``signpost audit verify`` and reports its
peak memory::

    .venv/bin/python benchmarks/audit_benchmark.py verify --rows 1000000 --data-dir /tmp/audit-1m
    .venv/bin/python benchmarks/audit_benchmark.py verify --rows 10000000 --data-dir /tmp/audit-10m

Each prints one Markdown table row for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from app import database
from app.audit import checkpoints, service
from app.audit.chain import FIELDS, GENESIS, entry_hash
from app.audit.service import Actor
from app.settings import DatabaseUrl, load_settings

SIGNPOST = str(Path(sys.executable).parent / "signpost")
POSTGRES = os.environ.get("SIGNPOST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = (*FIELDS, "prev_hash", "entry_hash")


async def _fresh_postgres() -> tuple[str, str]:
    name = f"signpost_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, f"{POSTGRES.rsplit('/', 1)[0]}/{name}"


async def _drop_postgres(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def throughput(backend: str, rows: int, writers: int, data_dir: Path) -> None:
    name = None
    if backend == "postgres":
        name, dsn = await _fresh_postgres()
        url = DatabaseUrl(kind="postgres", dsn=dsn)
    else:
        path = data_dir / "signpost.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = DatabaseUrl(kind="sqlite", sqlite_path=path)
    engine = database.make_engine(url)
    database.use_engine(engine)
    if backend == "sqlite" and url.sqlite_path is not None:
        database.prepare_sqlite_file(url.sqlite_path)
    await database.migrate()
    await database.open_pool(engine)
    per_writer = rows // writers
    start_at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    async def writer(n: int) -> None:
        actor = Actor("practitioner", 1000 + n, 7, 1, "practitioner")
        for i in range(per_writer):
            await service.record(
                "record.result_returned", actor, at=start_at + timedelta(milliseconds=i), child_id=10**15 + i
            )

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    seconds = time.perf_counter() - started
    head = await service.head()
    if head.size != per_writer * writers:
        raise SystemExit(f"expected {per_writer * writers} rows, found {head.size}")
    await database.close(engine)
    if name:
        await _drop_postgres(name)
    total = per_writer * writers
    print(f"| {backend} | {writers} | {total:,} | {seconds:.1f} s | {total / seconds:,.0f} rows/s |")


def _chain(count: int) -> object:
    """Rows of a valid chain, as tuples in COLUMNS order, with the head hash every 1,000 rows."""
    prev = GENESIS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, count + 1):
        row = {
            "seq": seq,
            "at": start + timedelta(milliseconds=37 * seq, microseconds=seq % 997 + 1),
            "actor_kind": "practitioner",
            "actor_id": 10**17 + seq % 5000,
            "organisation_id": 10**17 + seq % 300,
            "authority_id": 10**17 + seq % 150,
            "role": "practitioner",
            "action": "record.result_returned" if seq % 3 else "record.view",
            "child_id": 10**17 + seq * 7919 % 12_000_000,
            "child_authority_id": 10**17 + seq % 150,
            "subjects": "[]",
            "reason": None if seq % 3 else "assessment",
            "outcome": "success",
            "result_count": None,
            "detail": "{}",
            "prev_hash": prev,
        }
        row["entry_hash"] = prev = str(entry_hash(prev, row))
        yield row


def fill_sqlite(path: Path, rows: int, checkpoint_dir: Path, keys_dir: Path, origin: str) -> None:
    key = checkpoints.load_signing_key(keys_dir, create=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    placeholders = ", ".join("?" for _ in COLUMNS)
    insert = f"INSERT INTO audit_entry ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608 -- fixed names
    batch: list[tuple[object, ...]] = []
    previous = 0
    for row in _chain(rows):  # type: ignore[attr-defined]
        batch.append(tuple(str(v) if isinstance(v, datetime) else v for v in (row[c] for c in COLUMNS)))
        seq = row["seq"]
        if seq % 1000 == 0 or seq == rows:
            connection.executemany(insert, batch)
            connection.commit()
            batch.clear()
            checkpoint = checkpoints.Checkpoint(origin, seq, row["entry_hash"], row["at"], previous)
            (checkpoint_dir / f"checkpoint-{seq:012d}.txt").write_text(checkpoints.sign(checkpoint, key))
            previous = seq
    connection.close()


def verify(rows: int, data_dir: Path) -> None:
    if data_dir.exists():
        raise SystemExit(f"{data_dir} exists; give a fresh directory")
    env = {**os.environ, "SIGNPOST_DATA_DIR": str(data_dir)}
    subprocess.run([SIGNPOST, "migrate"], env=env, check=True, capture_output=True)
    settings = load_settings(env)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if settings.database.sqlite_path is None:
        raise SystemExit("the verify benchmark runs on SQLite")
    fill_sqlite(
        settings.database.sqlite_path,
        rows,
        settings.checkpoint_dir,
        settings.keys_dir,
        settings.audit_log_name,
    )
    filled = time.perf_counter() - started
    started = time.perf_counter()
    result = subprocess.run(
        [SIGNPOST, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(result.stdout.strip() or result.stderr.strip())
    if result.returncode != 0:
        raise SystemExit("verification failed")
    print(f"(filling the database took {filled:.0f} s)")
    rate = rows / seconds
    print(
        f"| SQLite | {rows:,} | {rows // 1000:,} | {seconds:.1f} s | {rate:,.0f} rows/s "
        f"| {peak_mib:.0f} MiB |"
    )
    print(json.dumps({"rows": rows, "seconds": round(seconds, 1), "peak_mib": round(peak_mib)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    put = sub.add_parser("throughput")
    put.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    put.add_argument("--rows", type=int, default=20_000)
    put.add_argument("--writers", type=int, default=8)
    put.add_argument("--data-dir", type=Path, default=None, help="default: a new temporary directory")
    check = sub.add_parser("verify")
    check.add_argument("--rows", type=int, required=True)
    check.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "throughput":
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="signpost-audit-bench-"))
        asyncio.run(throughput(args.backend, args.rows, args.writers, data_dir))
    else:
        verify(args.rows, args.data_dir)


if __name__ == "__main__":
    main()
