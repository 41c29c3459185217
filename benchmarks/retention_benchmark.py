"""Retention benchmark: how long ``signpost retention run`` takes on a seeded database.

Runs the real command line on a database made by ``benchmarks/seed_benchmark.py`` (children
born evenly over 18 years up to the seed's date, so about 1/365 of each year's cohort turns 18
on any day). The runs go in date order, as cron would make them::

    .venv/bin/python benchmarks/retention_benchmark.py --data-dir /tmp/seed-12m \\
        --day 2026-11-25 --day 2026-11-30 --day 2026-12-01

The first run on a database reads every record once (there is no earlier run to start from)
and makes the invitations already due; each later run reads only the months due. It prints the
command's own summary and one Markdown table row per run for benchmarks/README.md, with the
run's peak memory (GNU time's maximum resident set size). The database
is changed (records deleted, invitations made): copy it first to measure again.
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


def number(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return f"{int(match.group(1)):,}" if match else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--day", action="append", required=True, help="YYYY-MM-DD; repeat, in order")
    args = parser.parse_args()
    env = {**os.environ, "SIGNPOST_DATA_DIR": str(args.data_dir)}
    subprocess.run([SIGNPOST, "migrate"], env=env, check=True, capture_output=True)
    rows = []
    for day in args.day:
        started = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "peak memory %M KiB", SIGNPOST, "retention", "run", "--today", day],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        out = result.stdout
        peak = number(r"peak memory (\d+) KiB", result.stderr)
        print(out.strip(), f"\n  peak memory {peak} KiB", flush=True)
        scope = (
            "every record"
            if "every record" in out
            else "consent ended only (a later run that day)"
            if "consent ended (" in out
            else "months due"
        )
        looked, deleted = number(r"looked at (\d+)", out), number(r"deleted (\d+)", out)
        invited = number(r"invited (\d+)", out)
        memory = f"{int(peak.replace(',', '')) / 1024:.0f} MiB" if peak != "?" else "?"
        rows.append(f"| {day} | {scope} | {looked} | {deleted} | {invited} | {wall:.1f} s | {memory} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
