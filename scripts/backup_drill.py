#!/usr/bin/env python3
"""The backup drill: back up the database the settings name, wipe it, restore it and verify it,
timing each step (docs/reliability.md). It destroys the live database between the backup and
the restore, so it refuses to run in production unless told ``--yes-wipe-production``.

    SIGNPOST_DATA_DIR=var .venv/bin/python scripts/backup_drill.py [BACKUP_DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings import SettingsError, load_settings  # noqa: E402

SIGNPOST = str(Path(sys.executable).parent / "signpost")


def step(name: str, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run([SIGNPOST, *args], capture_output=True, text=True, check=False)  # noqa: S603
    print(done.stdout.rstrip())
    if done.returncode != 0:
        print(done.stderr.rstrip(), file=sys.stderr)
        print(f"drill FAILED at: {name}", file=sys.stderr)
        sys.exit(1)
    return time.monotonic() - started


async def wipe_postgres(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "backup_dir", nargs="?", help="where to write the backup (default: a new temporary directory)"
    )
    parser.add_argument("--yes-wipe-production", action="store_true", help="allow the drill in production")
    options = parser.parse_args()
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"settings: {'; '.join(exc.problems)}")
    if settings.production and not options.yes_wipe_production:
        sys.exit("the drill wipes the database: in production, say --yes-wipe-production")
    backup_dir = Path(options.backup_dir) if options.backup_dir else Path(tempfile.mkdtemp()) / "backup"

    took = {"backup": step("backup", "backup", str(backup_dir))}
    started = time.monotonic()
    if settings.database.kind == "sqlite" and settings.database.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.database.sqlite_path}{suffix}").unlink(missing_ok=True)
    elif settings.database.dsn is not None:
        asyncio.run(wipe_postgres(settings.database.dsn))
    took["wipe"] = time.monotonic() - started
    print("Wiped the database.")
    took["restore and verify"] = step("restore", "restore", str(backup_dir))
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for name, seconds in took.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"Drill passed on {settings.database.kind}: nothing lost.")


if __name__ == "__main__":
    main()
