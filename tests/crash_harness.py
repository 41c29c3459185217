"""Crash safety: the real server, writes in flight, SIGKILL at a random moment, and then proof
that nothing acknowledged was lost (docs/reliability.md).

Each round starts ``signpost serve`` (two worker processes), lets four practitioners' clients
record involvements and search as fast as they can, and kills the whole process group with
SIGKILL after a random 0.3 to 2 seconds. With the server dead it checks:

- every involvement whose request was answered ("Involvement recorded") is in the database;
- every involvement has its audit row and every ``involvement.add`` audit row its involvement
  (one transaction each way: no record without its audit row);
- ``signpost audit verify`` passes (the chain and every signed checkpoint);
- on SQLite, ``PRAGMA integrity_check`` says ``ok``.

    .venv/bin/python -m tests.crash_harness --rounds 50 [--postgres DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.crypto.keyring import Keyring
from tests.postgres_database import own_database
from tests.softkey import SoftKey

SIGNPOST = str(Path(sys.executable).parent / "signpost")
WRITERS = 4
CHILDREN = 12


@dataclass
class Outcome:
    backend: str
    rounds: int = 0
    acknowledged: int = 0
    lost: int = 0
    orphans: int = 0  # involvements without their audit row, or audit rows without theirs
    audit_failures: int = 0
    integrity_failures: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.orphans or self.audit_failures or self.integrity_failures)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIGNPOST, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


class Database:
    """Plain reads of the deployment's database, with the server stopped."""

    def __init__(self, env: dict[str, str]) -> None:
        self.dsn = env.get("SIGNPOST_DATABASE_URL")
        self.path = Path(env["SIGNPOST_DATA_DIR"]) / "signpost.sqlite3"

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.dsn:
            connection = await asyncpg.connect(self.dsn)
            try:
                return [tuple(r) for r in await connection.fetch(sql)]
            finally:
                await connection.close()
        with sqlite3.connect(self.path) as database:
            return list(database.execute(sql).fetchall())

    def integrity(self) -> str:
        if self.dsn:
            return "ok"  # PostgreSQL has no whole-file check; its WAL replay is its own
        with sqlite3.connect(self.path) as database:
            return str(database.execute("PRAGMA integrity_check").fetchone()[0])


async def _children(env: dict[str, str], database: Database) -> list[tuple[int, str, str, date]]:
    keyring = Keyring(Path(env["SIGNPOST_DATA_DIR"]) / "keys")
    rows = await database.rows(
        f"SELECT id, given_name, family_name, date_of_birth FROM child WHERE NOT shielded LIMIT {CHILDREN}"  # noqa: S608
    )
    return [
        (
            int(r[0]),
            keyring.decrypt("child.given_name", r[0], bytes(r[1])),
            keyring.decrypt("child.family_name", r[0], bytes(r[2])),
            date.fromisoformat(keyring.decrypt("child.date_of_birth", r[0], bytes(r[3]))),
        )
        for r in rows
    ]


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [SIGNPOST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=Path(os.environ.get("SIGNPOST_TEST_SERVER_LOG", os.devnull)).open("ab"),  # noqa: SIM115
        start_new_session=True,  # its own process group: SIGKILL reaches every worker
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("the server did not become ready")


async def _enrol(base: str, email: str, code: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=10)
    await client.get("/")
    token = client.cookies["csrftoken"]
    started = await client.post("/enrol", data={"email": email, "code": code, "_csrf_token": token})
    if started.status_code >= 400:
        raise RuntimeError(f"enrolment refused: {started.status_code}")
    headers = {"x-csrftoken": token}
    options = (await client.post("/auth/register/options", json={}, headers=headers)).json()
    verified = await client.post(
        "/auth/register/verify", json=SoftKey().create(options, origin=base), headers=headers
    )
    if verified.status_code != 200:
        raise RuntimeError(f"key registration refused: {verified.text}")
    return client


async def _search(client: httpx.AsyncClient, given: str, family: str, born: date) -> None:
    await client.post(
        "/search",
        data={
            "_csrf_token": client.cookies["csrftoken"],
            "family_name": family,
            "given_name": given,
            "dob-day": str(born.day),
            "dob-month": str(born.month),
            "dob-year": str(born.year),
        },
    )


async def _write(
    client: httpx.AsyncClient,
    children: list[tuple[int, str, str, date]],
    label: str,
    acknowledged: list[str],
    rng: random.Random,
) -> None:
    """Record involvements (and search now and then) until the server dies."""
    n = 0
    while True:
        n += 1
        child_id, given, family, born = rng.choice(children)
        role = f"Crash {label} {n}"
        try:
            if n % 5 == 0:
                await _search(client, given, family, born)
                continue
            answer = await client.post(
                f"/records/{child_id}/involvement",
                data={
                    "_csrf_token": client.cookies["csrftoken"],
                    "service_name": "Crash Test School",
                    "service_type": "education",
                    "role": role,
                    "telephone": "01632 960 123",
                    "email": "crash@example.org",
                    "start-day": "1",
                    "start-month": "9",
                    "start-year": "2025",
                },
            )
        except httpx.HTTPError:
            return  # the server was killed: whatever was not answered was not acknowledged
        if answer.status_code == 200 and "Involvement recorded" in answer.text:
            acknowledged.append(role)


async def run_harness(rounds: int, work_dir: Path, postgres: str | None = None, seed: int = 1) -> Outcome:
    started = time.monotonic()
    outcome = Outcome("postgres" if postgres else "sqlite")
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("SIGNPOST_")}
    env |= {
        "SIGNPOST_DATA_DIR": str(work_dir),
        "SIGNPOST_ORIGIN": f"http://127.0.0.1:{port}",
        "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION": "1",
        "SIGNPOST_QUOTA_SEARCHES_PER_HOUR": "100000",
        "SIGNPOST_QUOTA_VIEWS_PER_DAY": "1000000",
        "SIGNPOST_LOG_LEVEL": "WARNING",
    }
    if postgres:
        env["SIGNPOST_DATABASE_URL"] = postgres
    for args in (("migrate",), ("seed", "--children", "60", "--seed", "5", "--no-progress")):
        done = _run(*args, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"signpost {args[0]} failed: {done.stderr}")
    people = []
    for n in range(WRITERS):
        email = f"crash{n}@riverside.example.org"
        made = _run(
            "users", "create", "--name", f"Crash Tester {'ABCD'[n]}", "--email", email,
            "--role", "practitioner", "--org", "Riverside Primary School", "--authority", "Crash Council",
            env=env,
        )  # fmt: skip
        if made.returncode != 0:
            raise RuntimeError(made.stderr)
        people.append((email, made.stdout.strip().splitlines()[-1]))
    database = Database(env)
    children = await _children(env, database)
    rng = random.Random(seed)
    acknowledged: list[str] = []
    cookies: list[httpx.Cookies] = []
    base = f"http://127.0.0.1:{port}"
    for round_number in range(rounds):
        server = _start(env, port)
        clients = []
        try:
            if not cookies:  # the first round: enrol, and search each child so it may be opened
                for email, code in people:
                    client = await _enrol(base, email, code)
                    for _, given, family, born in children:
                        await _search(client, given, family, born)
                    clients.append(client)
                cookies = [c.cookies for c in clients]
            else:  # sessions are in the database: they outlive the server
                clients = [httpx.AsyncClient(base_url=base, timeout=10, cookies=c) for c in cookies]
            writers = [
                asyncio.create_task(_write(c, children, f"r{round_number} w{k}", acknowledged, rng))
                for k, c in enumerate(clients)
            ]
            await asyncio.sleep(rng.uniform(0.3, 2.0))
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
            await asyncio.gather(*writers)
        finally:
            for client in clients:
                await client.aclose()
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
        outcome.rounds += 1
        await _check(outcome, database, env, acknowledged)
    outcome.acknowledged = len(acknowledged)
    outcome.seconds = time.monotonic() - started
    return outcome


async def _check(outcome: Outcome, database: Database, env: dict[str, str], acknowledged: list[str]) -> None:
    integrity = database.integrity()
    if integrity != "ok":
        outcome.integrity_failures += 1
        outcome.problems.append(f"round {outcome.rounds}: integrity_check: {integrity[:200]}")
    stored = {r[0] for r in await database.rows("SELECT role FROM involvement WHERE role LIKE 'Crash %'")}
    lost = [role for role in acknowledged if role not in stored]
    outcome.lost = len(lost)  # over every round so far: a loss is counted once
    if lost:
        outcome.problems.append(f"round {outcome.rounds}: acknowledged but missing: {lost[:5]}")
    involvements = {
        int(r[0]) for r in await database.rows("SELECT id FROM involvement WHERE role LIKE 'Crash %'")
    }
    audited = set()
    for (subjects,) in await database.rows(
        "SELECT subjects FROM audit_entry WHERE action = 'involvement.add'"
    ):
        for subject in json.loads(subjects):
            if subject.startswith("involvement:"):
                audited.add(int(subject.split(":")[1]))
    outcome.orphans = len(involvements ^ audited)
    if involvements != audited:
        outcome.problems.append(f"round {outcome.rounds}: involvement and audit rows differ")
    verified = _run("audit", "verify", env=env)
    if verified.returncode != 0:
        outcome.audit_failures += 1
        outcome.problems.append(f"round {outcome.rounds}: {verified.stderr.strip()[:200]}")


async def _with_database(args: argparse.Namespace, work_dir: Path) -> Outcome:
    if not args.postgres:
        return await run_harness(args.rounds, work_dir, seed=args.seed)
    async with own_database(args.postgres, "signpost_crash") as dsn:
        return await run_harness(args.rounds, work_dir, dsn, args.seed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres", default=None, help="an admin DSN; a database of its own is made and dropped"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        outcome = asyncio.run(_with_database(args, Path(work)))
    print(
        f"{outcome.backend}: {outcome.rounds} rounds killed with SIGKILL in {outcome.seconds:.0f} s; "
        f"{outcome.acknowledged} acknowledged involvements; lost {outcome.lost}; "
        f"without their audit row {outcome.orphans}; audit verify failures {outcome.audit_failures}; "
        f"integrity failures {outcome.integrity_failures}"
    )
    for problem in outcome.problems:
        print(f"  {problem}")
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
