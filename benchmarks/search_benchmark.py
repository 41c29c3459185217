"""Search benchmark: the real server under a realistic load of searches and record views.

It seeds (or reuses) a database, starts ``signpost serve`` with production settings and one
worker per core, enrols practitioners with the software authenticator (attested keys, as
production demands), then drives an open-loop mix on loopback for ``--seconds``: searches by
family name + date of birth + postcode of real seeded children, and record views with a reason
(from the results of earlier searches). Before the mix it measures the same server's trivial
``/healthz`` throughput. Quotas are raised for the run (the load is many times one person's)::

    .venv/bin/python benchmarks/search_benchmark.py --children 10000 --data-dir /tmp/search-10k --rate 200
    .venv/bin/python benchmarks/search_benchmark.py --children 12000000 --data-dir /tmp/bench12m --rate 200

With ``--database-url postgresql://...`` the children are seeded into (or reused from) that
PostgreSQL database instead::

    .venv/bin/python benchmarks/search_benchmark.py --children 1000000 --data-dir /tmp/bench-pg \\
        --database-url postgresql://postgres@127.0.0.1:5432/signpost_bench --rate 100 200

With ``--api`` the same mix goes through the case-management API instead (a client registered
for the practitioners' organisation, each call naming one of them in ``Signpost-On-Behalf-Of``)::

    .venv/bin/python benchmarks/search_benchmark.py --children 12000000 --data-dir /tmp/bench12m \\
        --rate 200 --api

A data directory that already holds a seeded database (and ``keys/``) is reused. It prints one
Markdown table row per rate for benchmarks/README.md, with the CPU time the server (all its
workers) and the load generator each spent per request served.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.crypto.keyring import Keyring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the software authenticator lives in tests/
from tests.softkey import TEST_AAGUID, AttestationCA, SoftKey

SIGNPOST = str(Path(sys.executable).parent / "signpost")
REASONS = ("safeguarding_concern", "new_to_caseload", "arranging_service", "contacting_professionals")


def keys_dir(data_dir: Path) -> Path:
    """Beside the data directory, not in it: production refuses keys next to the database."""
    return data_dir.parent / f"{data_dir.name}-keys"


def environment(
    data_dir: Path, port: int, roots: Path, production: bool, database_url: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    if database_url:
        env["SIGNPOST_DATABASE_URL"] = database_url
    env |= {
        "SIGNPOST_DATA_DIR": str(data_dir),
        "SIGNPOST_KEYS_DIR": str(keys_dir(data_dir)),
        "SIGNPOST_ORIGIN": f"http://localhost:{port}",
        "SIGNPOST_QUOTA_SEARCHES_PER_HOUR": "100000",
        "SIGNPOST_QUOTA_VIEWS_PER_DAY": "1000000",
        "SIGNPOST_QUOTA_API_SEARCHES_PER_HOUR": "10000000",
        "SIGNPOST_QUOTA_API_VIEWS_PER_DAY": "100000000",
        "SIGNPOST_LOG_LEVEL": "WARNING",
    }
    if production:
        env |= {
            "SIGNPOST_ENV": "production",
            "SIGNPOST_SECRET_KEY": "b" * 48,
            "SIGNPOST_WEBAUTHN_ALLOWED_AAGUIDS": TEST_AAGUID,
            "SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS": str(roots),
        }
    return env


def run(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([SIGNPOST, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"signpost {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


async def sample_children(
    data_dir: Path, count: int, database_url: str | None
) -> list[tuple[str, date, str]]:
    """Family name, date of birth and postcode of random unshielded children with an address."""
    keyring = Keyring(keys_dir(data_dir))
    rows = await _sample_postgres(database_url, count) if database_url else _sample_sqlite(data_dir, count)
    picked: list[tuple[str, date, str]] = []
    for child_id, family, born, address in rows:
        postcode = json.loads(keyring.decrypt("child.address", child_id, bytes(address)))["postcode"]
        picked.append(
            (
                keyring.decrypt("child.family_name", child_id, bytes(family)),
                date.fromisoformat(keyring.decrypt("child.date_of_birth", child_id, bytes(born))),
                postcode,
            )
        )
    return picked


def _sample_sqlite(data_dir: Path, count: int) -> list[tuple[int, bytes, bytes, bytes]]:
    with sqlite3.connect(data_dir / "signpost.sqlite3") as database:
        # Row IDs are time-ordered 63-bit numbers, so draw between the smallest and the largest
        # (drawing from 1 would land below every ID and pick the first child every time). One
        # seed run's IDs are consecutive, so this is uniform on a seeded database; a child added
        # later, with an ID from the clock, would leave a gap that most draws fall into. Draws
        # are with replacement (at 10,000 children a few of the 500 repeat).
        low, high = database.execute("SELECT min(rowid), max(rowid) FROM child").fetchone()
        rng = random.Random(7)
        rows: list[tuple[int, bytes, bytes, bytes]] = []
        while len(rows) < count:
            row = database.execute(
                "SELECT id, family_name, date_of_birth, address FROM child "
                "WHERE rowid >= ? AND shielded = 0 AND address IS NOT NULL LIMIT 1",
                (rng.randint(low, high),),
            ).fetchone()
            if row is not None:
                rows.append(row)
    return rows


async def _sample_postgres(database_url: str, count: int) -> list[tuple[int, bytes, bytes, bytes]]:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT setseed(0.7)")
        rows = await connection.fetch(
            "SELECT id, family_name, date_of_birth, address FROM child "
            "WHERE NOT shielded AND address IS NOT NULL ORDER BY random() LIMIT $1",
            count,
        )
    finally:
        await connection.close()
    return [(r["id"], r["family_name"], r["date_of_birth"], r["address"]) for r in rows]


async def enrol(base: str, email: str, code: str, ca: AttestationCA) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    await client.get("/")
    token = client.cookies["csrftoken"]
    started = await client.post("/enrol", data={"email": email, "code": code, "_csrf_token": token})
    if started.status_code >= 400:
        raise SystemExit(f"enrolment refused: {started.status_code}")
    key = SoftKey(ca=ca)
    headers = {"x-csrftoken": token}
    options = (await client.post("/auth/register/options", json={}, headers=headers)).json()
    verified = await client.post(
        "/auth/register/verify", json=key.create(options, origin=base), headers=headers
    )
    if verified.status_code != 200:
        raise SystemExit(f"key registration refused: {verified.text}")
    return client


async def healthz_rate(base: str, seconds: float = 5.0, concurrency: int = 16) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await client.get("/healthz")
                done += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / seconds


async def open_loop(one: Callable[[int], Coroutine[Any, Any, None]], rate: float, seconds: float) -> None:
    """Start ``one(n)`` every 1/rate seconds for ``seconds``, whatever the answers, then wait."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        tasks.append(asyncio.create_task(one(n)))
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
    await asyncio.gather(*tasks)


async def user_id(client: httpx.AsyncClient) -> str:
    """The signed-in practitioner's Signpost user ID, from their home page."""
    home = await client.get("/home")
    found = re.search(r"(\d+) \(your case-management system names you by this\)", home.text)
    if found is None:
        raise SystemExit("no Signpost user ID on the home page")
    return found.group(1)


async def drive_api(
    base: str,
    secret: str,
    practitioners: list[str],
    children: list[tuple[str, date, str]],
    rate: float,
    seconds: float,
) -> dict[str, list[float]]:
    """The same open loop through the API: 70 % searches, 30 % views, each call for one of the
    practitioners in turn."""
    latencies: dict[str, list[float]] = {"search": [], "view": [], "errors": []}
    opened: list[tuple[str, int]] = []
    rng = random.Random(11)
    api = httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {secret}"})

    async def one(n: int) -> None:
        who = practitioners[n % len(practitioners)]
        started = time.perf_counter()
        if opened and rng.random() < 0.3:
            owner, child_id = rng.choice(opened)
            answer = await api.post(
                f"/api/v1/records/{child_id}/views",
                json={"reason": rng.choice(REASONS)},
                headers={"Signpost-On-Behalf-Of": owner},
            )
            kind = "view"
        else:
            family, born, postcode = rng.choice(children)
            answer = await api.post(
                "/api/v1/search",
                json={"family_name": family, "date_of_birth": born.isoformat(), "postcode": postcode},
                headers={"Signpost-On-Behalf-Of": who},
            )
            kind = "search"
            if answer.status_code == 200:
                for found in answer.json()["results"][:1]:
                    opened.append((who, found["record_id"]))
        elapsed = time.perf_counter() - started
        latencies[kind if answer.status_code == 200 else "errors"].append(elapsed)

    await open_loop(one, rate, seconds)
    await api.aclose()
    return latencies


async def drive(
    base: str,
    clients: list[httpx.AsyncClient],
    children: list[tuple[str, date, str]],
    rate: float,
    seconds: float,
) -> dict[str, list[float]]:
    """Open loop: a request every 1/rate seconds whatever the answers; 70 % searches, 30 % views."""
    latencies: dict[str, list[float]] = {"search": [], "view": [], "errors": []}
    opened: list[tuple[httpx.AsyncClient, int]] = []
    rng = random.Random(11)

    async def one(n: int) -> None:
        client = clients[n % len(clients)]
        token = client.cookies["csrftoken"]
        started = time.perf_counter()
        if opened and rng.random() < 0.3:
            owner, child_id = rng.choice(opened)
            answer = await owner.post(
                f"/records/{child_id}",
                data={"_csrf_token": owner.cookies["csrftoken"], "reason": rng.choice(REASONS)},
            )
            kind = "view"
        else:
            family, born, postcode = rng.choice(children)
            answer = await client.post(
                "/search",
                data={"_csrf_token": token, "family_name": family, "dob-day": str(born.day),
                      "dob-month": str(born.month), "dob-year": str(born.year), "postcode": postcode},
                headers={"HX-Request": "true", "HX-Target": "results"},
            )  # fmt: skip
            kind = "search"
            if answer.status_code == 200:
                for found in re.findall(r'href="/records/(\d+)"', answer.text)[:1]:
                    opened.append((client, int(found)))
        elapsed = time.perf_counter() - started
        latencies[kind if answer.status_code == 200 else "errors"].append(elapsed)

    await open_loop(one, rate, seconds)
    return latencies


def cpu_seconds(root: int) -> float:
    """User and system CPU time of a process and all its descendants (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    family, total = {root}, 0.0
    for pid in sorted(parents):  # children have larger PIDs than their parents here
        if parents[pid] in family:
            family.add(pid)
    for pid in family:
        total += times.get(pid, 0.0)
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def main_async(args: argparse.Namespace) -> None:
    data: Path = args.data_dir
    data.mkdir(parents=True, exist_ok=True)
    ca = AttestationCA()
    roots = data / "attestation-roots.pem"
    roots.write_bytes(ca.pem)
    dev = environment(data, args.port, roots, production=False, database_url=args.database_url)
    prod = environment(data, args.port, roots, production=True, database_url=args.database_url)
    run("migrate", env=dev)
    run(
        "seed",
        "--children",
        str(args.children),
        "--authorities",
        "150",
        "--if-empty",
        "--no-progress",
        env=dev,
    )
    if not (keys_dir(data) / "audit-signing.key").exists():
        run("keys", "init", env=prod)
    children = await sample_children(data, 500, args.database_url)
    codes = []
    for n in range(args.users):
        email = f"bench{n}.{time.time_ns()}@bench.example.org"
        who = [
            "--name",
            "Bench Practitioner",
            "--email",
            email,
            "--role",
            "practitioner",
            "--org",
            "Bench School",
        ]
        where = ["--authority", "Bench Council", "--authority-telephone", "01632 960 000",
                 "--authority-email", "team@bench.example.org"]  # fmt: skip
        out = run("users", "create", *who, *where, env=prod)
        codes.append((email, out.strip().splitlines()[-1]))
    workers = str(os.cpu_count() or 1)
    server = subprocess.Popen(
        [SIGNPOST, "serve", "--host", "127.0.0.1", "--port", str(args.port), "--workers", workers],
        env=prod, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://localhost:{args.port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        clients = [await enrol(base, email, code, ca) for email, code in codes]
        practitioners = [await user_id(client) for client in clients]  # enrolling signed them in
        secret = ""
        if args.api:
            out = run("api-clients", "register", "--name", "Bench MIS", "--org", "Bench School",
                      "--authority", "Bench Council", env=prod)  # fmt: skip
            secret = out.strip().splitlines()[-1]
        healthz = await healthz_rate(base)
        for rate in args.rate:
            server_before, client_before = cpu_seconds(server.pid), time.process_time()
            if args.api:
                latencies = await drive_api(base, secret, practitioners, children, rate, args.seconds)
            else:
                latencies = await drive(base, clients, children, rate, args.seconds)
            server_cpu = cpu_seconds(server.pid) - server_before
            client_cpu = time.process_time() - client_before
            report(args, rate, latencies, healthz, server_cpu, client_cpu)
        for client in clients:
            await client.aclose()
    finally:
        server.terminate()
        server.wait(timeout=20)


def report(
    args: argparse.Namespace,
    rate: float,
    latencies: dict[str, list[float]],
    healthz: float,
    server_cpu: float,
    client_cpu: float,
) -> None:
    """One Markdown table row; CPU is in milliseconds per request served (server: all workers)."""
    searches, views = latencies["search"], latencies["view"]
    total = len(searches) + len(views)
    ms = 1000
    print(
        f"| {'API' if args.api else 'web'} | {args.children:,} | {rate:g} | {total / args.seconds:,.0f} | "
        f"{statistics.median(searches) * ms:.1f} ms | {percentile(searches, 0.99) * ms:.1f} ms | "
        f"{statistics.median(views) * ms if views else float('nan'):.1f} ms | "
        f"{percentile(views, 0.99) * ms:.1f} ms | {len(latencies['errors'])} | {healthz:,.0f}/s | "
        f"{server_cpu * ms / max(total, 1):.1f} ms | {client_cpu * ms / max(total, 1):.1f} ms |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="keys and checkpoints (and SQLite)")
    parser.add_argument(
        "--database-url", help="a PostgreSQL database to seed and serve from, instead of SQLite in --data-dir"
    )
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[200], help="requests per second offered (one run each)"
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--api", action="store_true", help="drive the case-management API, not the web pages")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
