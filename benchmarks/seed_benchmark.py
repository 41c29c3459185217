"""Seeding benchmark: children per second, wall time, and database size per child.

Runs the real command line (``signpost migrate`` then ``signpost seed``) against a fresh data
directory, so what it measures is what an operator gets::

    .venv/bin/python benchmarks/seed_benchmark.py --children 1000000 --data-dir /tmp/seed-1m
    .venv/bin/python benchmarks/seed_benchmark.py --children 12000000 --data-dir /tmp/seed-12m

It prints one Markdown table row for benchmarks/README.md. The data directory is left in place
(other benchmarks reuse a seeded database); it must not exist beforehand.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SIGNPOST = str(Path(sys.executable).parent / "signpost")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--authorities", type=int, default=150)
    args = parser.parse_args()
    if args.data_dir.exists():
        parser.error(f"{args.data_dir} exists; give a fresh directory")
    env = {**os.environ, "SIGNPOST_DATA_DIR": str(args.data_dir)}
    subprocess.run([SIGNPOST, "migrate"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    result = subprocess.run(
        [
            SIGNPOST, "seed", "--children", str(args.children), "--seed", str(args.seed),
            "--authorities", str(args.authorities), "--batch-size", "5000", "--no-progress",
        ],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    match = re.search(r"\(([\d,]+) children/s\)", result.stdout)
    rate = match.group(1) if match else "?"
    size = sum(p.stat().st_size for p in args.data_dir.glob("signpost.sqlite3*"))
    print(result.stdout.strip())
    print(
        f"| {args.children:,} | {wall / 60:.1f} min ({wall:.0f} s) | {rate} | "
        f"{size / 2**30:.2f} GiB | {size / args.children:,.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
