"""Source-feed import benchmark: rows per second and peak memory of ``signpost import``.

For each feed size it makes a fresh database (``signpost migrate``, then ``signpost seed
--authorities 1`` with ``--existing`` children, so that matching has real candidates to look
at), streams a valid feed of that many rows to a CSV file for the seeded authority, and times
the real command line as an operator runs it::

    .venv/bin/python benchmarks/feed_benchmark.py --rows 10000 100000 1000000
    .venv/bin/python benchmarks/feed_benchmark.py --rows 100000 --postgres postgresql://postgres@127.0.0.1:5432/test

A share of the rows (``--known-share``) are children already seeded, sent again as their source
would: half of them at a new address (updated), half as they are (unchanged unless the seeded
child has more carers than a feed row holds); the rest are children Signpost has not seen
(created, or queued for review when they look like an existing or shielded child). The feed
poses as the seeded records' own source (``--source synthetic``), so that a row that changes
nothing leaves the record unchanged.

The import runs as a subprocess with ``--no-progress``; its wall time, its peak resident set
size (``wait4``'s ``ru_maxrss``), its resident set sampled through the run, and on SQLite the
peak size of the write-ahead log (the whole file is one transaction) are reported with the
import's own counts, as one Markdown table row per size for benchmarks/README.md. The first
pass (validation alone) is also timed in this process, separately, for where the time goes.
Each size gets its own database, deleted afterwards unless ``--keep``.

``--probe-write SECONDS`` makes one audited write from this process that many seconds into each
import, as the service makes them for every search and record view, and reports how long it
waited: the import is one transaction, and it appends to the audit trail as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from msgspec.structs import replace

from app import database
from app.audit import service as audit
from app.audit.service import Actor
from app.consent.dates import eighteenth_birthday, uk_date
from app.crypto.keyring import Keyring
from app.feeds.format import Place, read_feed, to_columns, write_feed
from app.records.codes import Gender, Relationship
from app.records.schemas import Address, CarerDetails, ChildDetails, PersonName
from app.records.service import load_child
from app.records.tables import Child, LocalAuthority
from app.seed import names
from app.seed.service import authority_code
from app.settings import load_settings

SIGNPOST = str(Path(sys.executable).parent / "signpost")
MIB = 2**20
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_FAMILY_CUM_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 8) for rank in range(len(names.FAMILY_NAMES))))
_RELATIONS = list(Relationship)[2:-2]  # step_parent ... special_guardian


# ---------------------------------------------------------------------------------------------
# The feed


class FeedMaker:
    """Valid feed rows for one authority, from one random stream."""

    def __init__(self, rng: random.Random, today: date, code: str) -> None:
        self.rng = rng
        self.today = today
        self.code = code
        self.area = "".join(rng.choice("BCDEGHKLMNPRSTWY") for _ in range(2))
        self.towns = tuple(rng.sample(names.TOWNS, 5))
        # A bounded set of schools and GP practices, each name once with one telephone number
        # (the importer caches each one it meets, and updates a number that changes).
        self.schools = self.places(150, lambda: rng.choice(names.SCHOOL_KINDS))
        self.gps = self.places(40, lambda: "Medical Practice")

    def places(self, count: int, kind: Callable[[], str]) -> tuple[Place, ...]:
        rng = self.rng
        found: dict[str, Place] = {}
        while len(found) < count:
            name = f"{rng.choice(names.STREET_STEMS)} {kind()}, {rng.choice(self.towns)}"
            found.setdefault(name, Place(name, f"01632 960 {rng.randrange(1000):03d}"))
        return tuple(found.values())

    def address(self) -> Address:
        rng = self.rng
        street = f"{rng.randint(1, 240)} {rng.choice(names.STREET_STEMS)} {rng.choice(names.STREET_KINDS)}"
        lines = (street,) if rng.random() < 0.85 else (f"Flat {rng.randint(1, 40)}", street)
        letters = rng.choice(_INWARD_LETTERS) + rng.choice(_INWARD_LETTERS)
        postcode = f"{self.area}{rng.randint(1, 29)} {rng.randrange(10)}{letters}"
        return Address(lines=lines, town=rng.choice(self.towns), postcode=postcode)

    def family_name(self) -> str:
        return self.rng.choices(names.FAMILY_NAMES, cum_weights=_FAMILY_CUM_WEIGHTS)[0]

    def given_name(self, gender: Gender) -> str:
        pool = {
            Gender.female: names.GIVEN_NAMES_FEMALE,
            Gender.male: names.GIVEN_NAMES_MALE,
        }.get(gender, names.GIVEN_NAMES_ANY)
        return self.rng.choice(pool)

    def new_child(self) -> dict[str, str]:
        """A child Signpost has not seen: born in the last 17 years, one or two carers, a GP
        practice, and a school from the age of four."""
        rng = self.rng
        roll = rng.random()
        gender = (
            Gender.female
            if roll < 0.49
            else Gender.male
            if roll < 0.98
            else Gender.not_specified
            if roll < 0.995
            else Gender.other
        )
        family = self.family_name()
        born = self.today - timedelta(days=rng.randrange(17 * 365))
        address = self.address()
        mother = CarerDetails(
            name=f"{rng.choice(names.GIVEN_NAMES_FEMALE)} {family}",
            relationship=Relationship.mother,
            telephone=f"07700 900 {rng.randrange(1000):03d}",
            address=address,
        )
        carers: tuple[CarerDetails, ...] = (mother,)
        if rng.random() < 0.6:
            carers += (
                CarerDetails(
                    name=f"{rng.choice(names.GIVEN_NAMES_MALE)} "
                    f"{family if rng.random() < 0.8 else self.family_name()}",
                    relationship=Relationship.father if rng.random() < 0.85 else rng.choice(_RELATIONS),
                    telephone=f"07700 900 {rng.randrange(1000):03d}" if rng.random() < 0.9 else None,
                    address=address if rng.random() < 0.85 else self.address(),
                ),
            )
        former: tuple[PersonName, ...] = ()
        if rng.random() < 0.02:
            former = (PersonName(self.given_name(gender), self.family_name()),)
        school = None
        started = None
        if (self.today - born).days >= 4 * 365:
            school = rng.choice(self.schools)
            started = min(self.today, born + timedelta(days=4 * 365 + rng.randrange(300)))
        child = ChildDetails(
            given_name=self.given_name(gender),
            family_name=family,
            date_of_birth=born,
            gender=gender,
            address=address,
            local_authority_id=0,  # the feed names the authority by its code
            source="bench",
            former_names=former,
            carers=carers,
            education_start_date=started,
        )
        return to_columns(child, self.code, education=school, gp=rng.choice(self.gps))

    def known_child(self, details: ChildDetails) -> dict[str, str]:
        """A seeded child sent again: at a new address half the time, else as stored (the row
        leaves school and GP empty, which keeps the record's own)."""
        if self.rng.random() < 0.5:
            details = replace(details, address=self.address())
        return to_columns(details, self.code)


class KnownChildren:
    """Seeded children of the authority, read (and decrypted) 500 at a time in ID order."""

    def __init__(self, env: dict[str, str], code: str, today: date) -> None:
        self.settings = load_settings(env)
        self.keyring = Keyring(self.settings.keys_dir)
        self.loop = asyncio.new_event_loop()
        self.engine = database.make_engine(self.settings.database)
        database.use_engine(self.engine)
        self.loop.run_until_complete(database.open_pool(self.engine))
        rows = self.loop.run_until_complete(
            LocalAuthority.select(LocalAuthority.id).where(LocalAuthority.code == code).run()
        )
        if not rows:
            raise SystemExit(f"no authority {code}: did 'signpost seed' run?")
        self.authority_id = int(rows[0]["id"])
        self.today = today

    async def _chunk(self, after: int) -> tuple[int, list[ChildDetails]]:
        """The next 500 children after row ID ``after``, and the last ID read (0: none left)."""
        rows = (
            await Child.select(Child.id)
            .where((Child.local_authority == self.authority_id) & (Child.id > after))
            .order_by(Child.id)
            .limit(500)
            .run()
        )
        children = [(await load_child(self.keyring, int(r["id"]))).details for r in rows]
        return (int(rows[-1]["id"]) if rows else 0), children

    def __iter__(self) -> Iterator[ChildDetails]:
        after = 0
        while True:
            after, children = self.loop.run_until_complete(self._chunk(after))
            if not after:
                return
            for child in children:
                # Not turning 18 before the import runs: those rows would be skipped.
                if eighteenth_birthday(child.date_of_birth) > self.today + timedelta(days=2):
                    yield child

    def close(self) -> None:
        self.loop.run_until_complete(database.close(self.engine))
        self.loop.close()


@dataclass(slots=True)
class Feed:
    path: Path
    rows: int
    known: int
    seconds: float


def write_bench_feed(
    path: Path, rows: int, *, known: KnownChildren | None, known_share: float, seed: int, code: str
) -> Feed:
    """Stream ``rows`` rows to ``path``: nothing but the current row and a chunk of 500 known
    children is held."""
    today = uk_date(datetime.now(UTC))
    rng = random.Random(f"signpost-feed-bench:{seed}:{rows}")
    maker = FeedMaker(rng, today, code)
    supply = iter(known) if known is not None and known_share > 0 else iter(())
    counts = {"known": 0}

    def stream() -> Iterator[dict[str, str]]:
        nonlocal supply
        for _ in range(rows):
            if known_share > 0 and rng.random() < known_share:
                child = next(supply, None)
                if child is not None:
                    counts["known"] += 1
                    yield maker.known_child(child)
                    continue
                supply = iter(())  # every known child has been sent
            yield maker.new_child()

    started = time.perf_counter()
    with path.open("w", encoding="utf-8", newline="") as out:
        written = write_feed(out, stream())
    return Feed(path, written, counts["known"], time.perf_counter() - started)


def check_pass(path: Path, code: str, authority_id: int) -> tuple[float, int]:
    """The importer's first pass alone (parse and validate every row), timed in this process;
    any problem ends the benchmark, since the import would reject the file."""
    today = uk_date(datetime.now(UTC))
    started = time.perf_counter()
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for parsed in read_feed(stream, source="synthetic", authorities={code: authority_id}, today=today):
            if isinstance(parsed, list):
                raise SystemExit(f"the generated feed has a problem: {parsed[:3]}")
            count += 1
    return time.perf_counter() - started, count


# ---------------------------------------------------------------------------------------------
# Running and measuring the import


@dataclass(slots=True)
class Run:
    seconds: float
    peak_rss_kib: int
    exit_code: int
    stdout: str
    stderr: str
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (s, RSS KiB, WAL bytes)
    probed: list[str] = field(default_factory=list)  # what the audited-write probe saw


def _rss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


async def _audited_write(env: dict[str, str]) -> None:
    """One audited write, the way the service makes them (the path every search and record view
    takes: a write unit that appends to the audit trail)."""
    settings = load_settings(env)
    engine = database.make_engine(settings.database)
    database.use_engine(engine)
    try:
        await audit.record(
            "record.result_returned",
            Actor("practitioner", 1001, 7, 1, "practitioner"),
            at=datetime.now(UTC),
            child_id=10**15,
        )
    finally:
        await database.close(engine)


def probe_write(env: dict[str, str], started: float, after: float, found: list[str]) -> None:
    """``after`` seconds into the run, time one audited write from this process."""
    time.sleep(max(0.0, after - (time.perf_counter() - started)))
    begun = time.perf_counter()
    try:
        asyncio.run(_audited_write(env))
        outcome = "done"
    except Exception as exc:  # report any failure as the probe's result
        outcome = f"failed ({type(exc).__name__})"
    ended = time.perf_counter()
    found.append(
        f"an audited write begun {begun - started:.0f} s into the import took {ended - begun:.1f} s "
        f"({outcome} {ended - started:.0f} s into it)"
    )


def measure(
    command: list[str], env: dict[str, str], wal: Path | None, every: float, probe: float | None = None
) -> Run:
    """Run ``command``; its wall time, its peak RSS (from ``wait4``) and samples of its RSS and
    of the write-ahead log's size every ``every`` seconds; with ``probe``, time one audited write
    made that many seconds in."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        samples: list[tuple[float, int, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(every):
                size = wal.stat().st_size if wal is not None and wal.exists() else 0
                samples.append((time.perf_counter() - started, _rss_kib(process.pid), size))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        probed: list[str] = []
        prober = None
        if probe is not None:
            prober = threading.Thread(target=probe_write, args=(env, started, probe, probed), daemon=True)
            prober.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        if prober is not None:
            prober.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss, process.returncode, out.read(), err.read(), samples, probed)


def counts(stdout: str) -> dict[str, int]:
    patterns = {
        "rows": r"Imported (\d+) row",
        "created": r"(\d+) new record",
        "updated": r"(\d+) record\(s\) updated",
        "unchanged": r"updated, (\d+) unchanged",
        "moved": r"(\d+) record\(s\) moved",
        "queued": r"(\d+) row\(s\) waiting",
        "skipped": r"(\d+) row\(s\) skipped",
    }
    found = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, stdout)
        found[key] = int(match.group(1)) if match else 0
    return found


def signpost(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([SIGNPOST, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"signpost {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


async def _postgres(admin_dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _postgres_size(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await connection.close()


def sqlite_size(path: Path) -> int:
    """The database file's size once the write-ahead log is folded back into it."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*") if p.is_file())


def timeline(run: Run, parts: int = 10) -> str:
    """RSS (MiB) and WAL (MiB) at each tenth of the run's time."""
    if not run.samples:
        return "(no samples: the run was shorter than the sampling interval)"
    points = []
    for k in range(1, parts + 1):
        at = run.seconds * k / parts
        sample = min(run.samples, key=lambda s: abs(s[0] - at))
        points.append(f"{sample[0]:.0f}s {sample[1] / 1024:.0f}/{sample[2] / MIB:.0f}")
    return "RSS/WAL MiB at each tenth of the run: " + ", ".join(points)


def one_size(args: argparse.Namespace, rows: int, work: Path) -> str:
    data_dir = work / f"feed-{rows}"
    if data_dir.exists():
        raise SystemExit(f"{data_dir} exists; give a fresh --work-dir")
    env = {**os.environ, "SIGNPOST_DATA_DIR": str(data_dir), "SIGNPOST_ENV": "development"}
    pg_name = None
    if args.postgres:
        pg_name = f"signpost_feedbench_{secrets.token_hex(4)}"
        asyncio.run(_postgres(args.postgres, f'CREATE DATABASE "{pg_name}"'))
        env["SIGNPOST_DATABASE_URL"] = f"{args.postgres.rsplit('/', 1)[0]}/{pg_name}"
    try:
        data_dir.mkdir(parents=True)
        signpost("migrate", env=env)
        started = time.perf_counter()
        signpost(
            "seed", "--children", str(args.existing), "--authorities", "1", "--seed", str(args.seed),
            "--no-progress", env=env,
        )  # fmt: skip
        seeded = time.perf_counter() - started
        code = authority_code(args.seed, 0)
        today = uk_date(datetime.now(UTC))
        known = KnownChildren(env, code, today)
        try:
            feed = write_bench_feed(
                data_dir / f"feed-{rows}.csv",
                rows,
                known=known if args.existing else None,
                known_share=args.known_share,
                seed=args.seed,
                code=code,
            )
        finally:
            known.close()
        size = feed.path.stat().st_size
        print(
            f"[{rows:,} rows] seeded {args.existing:,} children in {seeded:.0f} s; wrote the feed "
            f"({size / MIB:.0f} MiB, {feed.known:,} known children) in {feed.seconds:.0f} s",
            flush=True,
        )
        check = "-"
        if args.check_pass:
            check_seconds, checked = check_pass(feed.path, code, known.authority_id)
            if checked != rows:
                raise SystemExit(f"the first pass read {checked} rows, not {rows}")
            check = f"{check_seconds:,.1f} s"
            print(f"[{rows:,} rows] first pass alone (in this process): {check_seconds:.1f} s", flush=True)
        wal = None if args.postgres else data_dir / "signpost.sqlite3-wal"
        run = measure(
            [SIGNPOST, "import", "--source", args.source, str(feed.path), "--no-progress"],
            env,
            wal,
            args.sample_seconds,
            args.probe_write,
        )
        print(run.stdout.strip(), run.stderr.strip(), *run.probed, sep="\n", flush=True)
        if run.exit_code != 0:
            raise SystemExit(f"signpost import exited {run.exit_code}")
        found = counts(run.stdout)
        if found["rows"] != rows:
            raise SystemExit(f"the import reports {found['rows']} rows, not {rows}")
        print(f"[{rows:,} rows] {timeline(run)}", flush=True)
        wal_peak = max((s[2] for s in run.samples), default=0)
        if args.postgres:
            db_size = asyncio.run(_postgres_size(env["SIGNPOST_DATABASE_URL"]))
            wal_cell = "-"
        else:
            db_size = sqlite_size(data_dir / "signpost.sqlite3")
            wal_cell = f"{wal_peak / 2**30:.2f} GiB"
        return (
            f"| {'PostgreSQL' if args.postgres else 'SQLite'} | {rows:,} | {args.existing:,} "
            f"| {size / MIB:,.0f} MiB | {check} | {run.seconds:,.1f} s | {rows / run.seconds:,.0f} "
            f"| {run.peak_rss_kib / 1024:,.0f} MiB | {wal_cell} | {db_size / 2**30:.2f} GiB "
            f"| {found['created']:,} | {found['updated']:,} | {found['unchanged']:,} "
            f"| {found['queued']:,} | {found['skipped']:,} |"
        )
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            if pg_name is not None:
                asyncio.run(_postgres(args.postgres, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


HEADER = (
    "| database | rows | existing children | feed file | first pass alone | import wall time | rows/s "
    "| peak RSS | WAL peak | database size | created | updated | unchanged | queued | skipped |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--existing", type=int, default=100_000, help="children seeded before each import")
    parser.add_argument(
        "--known-share", type=float, default=0.1, help="share of rows that are seeded children sent again"
    )
    parser.add_argument(
        "--source", default="synthetic", help="the feed's --source (seeded records: synthetic)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=None, help="where the data directories go")
    parser.add_argument("--postgres", default=None, help="admin DSN: import into a fresh database there")
    parser.add_argument("--keep", action="store_true", help="keep each data directory (and database)")
    parser.add_argument("--no-check-pass", dest="check_pass", action="store_false")
    parser.add_argument("--sample-seconds", type=float, default=1.0)
    parser.add_argument(
        "--probe-write",
        type=float,
        default=None,
        metavar="SECONDS",
        help="that many seconds into each import, time one audited write (does the import block it?)",
    )
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="signpost-feed-bench-"))
    lines = []
    for rows in args.rows:
        lines.append(one_size(args, rows, work))
        print(HEADER, *lines, sep="\n", flush=True)
    if args.work_dir is None and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
