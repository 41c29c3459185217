"""What a search and a record view cost in process, and what a search has to look at.

On a data directory seeded by ``search_benchmark.py`` (SQLite), with no server: for 500 of the
same randomly drawn children the load uses, it counts the candidate rows a family name and date
of birth find (the blind index's collisions and the namesakes born the same day), then times
``app.search.service.find`` (family name + date of birth + postcode) and, for 500 random
records, the reads a record view makes (``load_child``, and the access check ``may_open`` for a
practitioner no search has shown the child to, so all three of its statements run). Each
is timed after one warm-up pass, on a warm cache. Read-only: nothing is written::

    .venv/bin/python benchmarks/search_cost.py --data-dir /tmp/bench12m
    .venv/bin/python benchmarks/search_cost.py --data-dir /tmp/bench10k
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from search_benchmark import keys_dir, sample_children

from app.crypto.keyring import Keyring
from app.database import make_engine, use_engine
from app.records import access
from app.records.normalise import normalise_name, normalise_postcode
from app.records.service import load_child
from app.search import service
from app.settings import DatabaseUrl

SAMPLES = 500


def spread(values: list[float], unit: str = "") -> str:
    ordered = sorted(values)
    ninetieth = ordered[int(0.9 * len(ordered))]
    return (
        f"mean {statistics.mean(ordered):.3g}{unit}, median {statistics.median(ordered):.3g}{unit}, "
        f"90th percentile {ninetieth:.3g}{unit}, max {ordered[-1]:.3g}{unit}"
    )


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    """Milliseconds for each call, after one untimed pass over them all."""
    for call in calls:
        await call()
    times = []
    for call in calls:
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def main_async(data_dir: Path) -> None:
    use_engine(make_engine(DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3")))
    keyring = Keyring(keys_dir(data_dir))
    children = await sample_children(data_dir, SAMPLES, None)
    searches = [
        service.Criteria(family_name=family, date_of_birth=born, postcode=normalise_postcode(postcode))
        for family, born, postcode in children
    ]
    candidates, namesakes = [], []
    for criteria in searches:
        rows = [service._Candidate(keyring, row) for row in await service._candidates(keyring, criteria)]
        candidates.append(float(len(rows)))
        wanted = normalise_name(criteria.family_name or "")
        namesakes.append(
            float(
                sum(
                    1
                    for row in rows
                    if row.born == criteria.date_of_birth
                    and normalise_name(row.plain("family_name") or "") == wanted
                )
            )
        )
    print(f"candidate rows a search reads: {spread(candidates)}")
    print(f"of them, same family name and date of birth: {spread(namesakes)}")
    print(
        f"search (find): {spread(await timed([partial(service.find, keyring, c) for c in searches]), ' ms')}"
    )

    with sqlite3.connect(data_dir / "signpost.sqlite3") as database:
        low, high = database.execute("SELECT min(id), max(id) FROM child").fetchone()
        draw = random.Random(5)
        ids = [
            database.execute(
                "SELECT id FROM child WHERE id >= ? LIMIT 1", (draw.randint(low, high),)
            ).fetchone()[0]
            for _ in range(SAMPLES)
        ]
    now = datetime.now(UTC)
    loads = await timed([partial(load_child, keyring, i) for i in ids])
    checks = await timed([partial(access.may_open, 1, i, now) for i in ids])
    print(f"record view, load_child: {spread(loads, ' ms')}")
    print(f"record view, may_open: {spread(checks, ' ms')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="seeded by search_benchmark.py")
    data_dir = parser.parse_args().data_dir
    asyncio.run(main_async(data_dir))
    sys.stdout.flush()
    os._exit(0)  # the kept reader's thread would otherwise hold the process open


if __name__ == "__main__":
    main()
