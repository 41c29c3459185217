"""Scale-out on PostgreSQL: two real server processes, on two ports, sharing one database, as
behind one load balancer (docs/deployment.md). A session made on one is good on the other, the
search quota counts both together, and concurrent writes through both leave one unbroken audit
chain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_ADMIN_DSN
from tests.crash_harness import Database, _children, _enrol, _free_port, _run, _search
from tests.integration.test_outage import deployment_env, prepare, record, recorded, running
from tests.postgres_database import own_database, require_postgres

QUOTA = 8


@pytest.fixture
async def shared_database(postgres_dsn: str | None) -> AsyncIterator[str]:
    require_postgres(postgres_dsn)
    async with own_database(POSTGRES_ADMIN_DSN, "signpost_scale") as dsn:
        yield dsn


async def test_two_servers_share_sessions_quotas_and_one_audit_chain(
    tmp_path: Path, shared_database: str
) -> None:
    port_a, port_b = _free_port(), _free_port()
    origin = "http://127.0.0.1:{}"
    # One origin in production (the load balancer's); here each server is reached directly, so
    # each is told its own, and they share the data directory (keys) and the database.
    env_a = deployment_env(tmp_path / "data", port_a, shared_database)
    env_a["SIGNPOST_QUOTA_SEARCHES_PER_HOUR"] = str(QUOTA)
    env_b = {**env_a, "SIGNPOST_ORIGIN": origin.format(port_b)}
    code = prepare(env_a)
    database = Database(env_a)
    children = await _children(env_a, database)
    with running(env_a, port_a), running(env_b, port_b):
        a = await _enrol(origin.format(port_a), "ada@riverside.example.org", code)
        b = httpx.AsyncClient(base_url=origin.format(port_b), timeout=10, cookies=a.cookies)
        try:
            # The session made on A works on B.
            home = await b.get("/home")
            assert home.status_code == 200
            assert "Ada Okafor" in home.text
            # The quota counts searches on both servers together.
            child_id, given, family, born = children[0]
            answers = []
            for n in range(QUOTA + 2):
                client = a if n % 2 == 0 else b
                answer = await client.post(
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
                answers.append(answer.status_code)
            assert answers[:QUOTA] == [200] * QUOTA
            assert answers[QUOTA:] == [429, 429]
            # Writes through both at once: one chain, every one audited.
            await _search(a, given, family, born)  # over quota, refused, but harmless
            written = await asyncio.gather(
                *(record(a if n % 2 else b, child_id, f"Scale test {n}") for n in range(40))
            )
            assert sum(recorded(w) for w in written) == 40
        finally:
            await a.aclose()
            await b.aclose()
    roles = {r[0] for r in await database.rows("SELECT role FROM involvement WHERE role LIKE 'Scale test%'")}
    assert len(roles) == 40
    added = await database.rows("SELECT COUNT(*) FROM audit_entry WHERE action = 'involvement.add'")
    assert added[0][0] == 40
    verified = _run("audit", "verify", env=env_a)
    assert verified.returncode == 0, verified.stderr
