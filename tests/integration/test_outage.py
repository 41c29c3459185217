"""The real server when its storage fails: a full disk under SQLite (a small tmpfs filled to the
last byte), and PostgreSQL out of reach (a TCP proxy in front of it, cut and restored). Writes
fail with a 503 page and leave no rows, ``/readyz`` says what is wrong, and service resumes,
with nothing acknowledged lost, as soon as the storage is back (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import POSTGRES_ADMIN_DSN
from tests.crash_harness import Database, _children, _enrol, _free_port, _run, _search, _start
from tests.postgres_database import own_database, require_postgres

ROLE = "Outage test"


def deployment_env(data_dir: Path, port: int, database_url: str | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SIGNPOST_")}
    env |= {
        "SIGNPOST_DATA_DIR": str(data_dir),
        "SIGNPOST_ORIGIN": f"http://127.0.0.1:{port}",
        "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION": "1",
        "SIGNPOST_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["SIGNPOST_DATABASE_URL"] = database_url
    return env


def prepare(env: dict[str, str]) -> str:
    for args in (("migrate",), ("seed", "--children", "30", "--seed", "3", "--no-progress")):
        assert _run(*args, env=env).returncode == 0
    made = _run(
        "users", "create", "--name", "Ada Okafor", "--email", "ada@riverside.example.org", "--role",
        "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


async def record(client: httpx.AsyncClient, child_id: int, role: str) -> httpx.Response:
    return await client.post(
        f"/records/{child_id}/involvement",
        data={
            "_csrf_token": client.cookies["csrftoken"],
            "service_name": "Riverside Primary School",
            "service_type": "education",
            "role": role,
            "telephone": "01632 960 123",
            "email": "ada@riverside.example.org",
            "start-day": "1",
            "start-month": "9",
            "start-year": "2025",
        },
    )


def recorded(answer: httpx.Response) -> bool:
    return answer.status_code == 200 and "Involvement recorded" in answer.text


def assert_clean_503(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text[:500]
    assert "nothing was done or saved" in answer.text
    assert "Traceback" not in answer.text


@contextlib.contextmanager
def running(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    server = _start(env, port)
    try:
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


# --- A full disk under SQLite -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs: a disk that can really fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        reason = f"cannot mount a small tmpfs here ({made.stderr.strip()[:100]}): run the suite as root"
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI requires it")
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the disk is full; the filler file, to delete when space should return."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:  # unbuffered: nothing left to write at close, where a full disk would raise
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)
    return filler


async def test_a_full_disk_fails_writes_cleanly_and_the_service_recovers(small_disk: Path) -> None:
    port = _free_port()
    env = deployment_env(small_disk / "data", port)
    code = prepare(env)
    database = Database(env)
    children = await _children(env, database)
    with running(env, port):
        client = await _enrol(f"http://127.0.0.1:{port}", "ada@riverside.example.org", code)
        try:
            child_id, given, family, born = children[0]
            await _search(client, given, family, born)
            assert recorded(await record(client, child_id, f"{ROLE} before"))
            filler = fill(small_disk)
            # A write may still fit in space the write-ahead log already holds: keep writing
            # until the disk refuses one (it must, well before the log's space runs out).
            acknowledged = [f"{ROLE} before"]
            refused = None
            for n in range(200):
                answer = await record(client, child_id, f"{ROLE} while full {n}")
                if recorded(answer):
                    acknowledged.append(f"{ROLE} while full {n}")
                    continue
                refused = answer
                break
            assert refused is not None, "the full disk never refused a write"
            assert_clean_503(refused)
            filler.unlink()  # space returns
            assert recorded(await record(client, child_id, f"{ROLE} after"))
            acknowledged.append(f"{ROLE} after")
        finally:
            await client.aclose()
    roles = [r[0] for r in await database.rows("SELECT role FROM involvement WHERE role LIKE 'Outage%'")]
    assert sorted(roles) == sorted(acknowledged)  # the refused write left no row
    assert database.integrity() == "ok"
    assert _run("audit", "verify", env=env).returncode == 0


async def test_a_capped_sqlite_file_fails_writes_cleanly_and_recovers_when_the_cap_is_raised(
    tmp_path: Path,
) -> None:
    """The database's own size cap (``?max_page_count=N`` on the URL, SQLite's PRAGMA on every
    connection) reached under the live server: 503 pages, no partial rows; raised, writes resume."""
    port = _free_port()
    env = deployment_env(tmp_path / "data", port)
    code = prepare(env)
    database = Database(env)
    children = await _children(env, database)
    path = tmp_path / "data" / "signpost.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    capped = {**env, "SIGNPOST_DATABASE_URL": f"sqlite:///{path}?max_page_count={pages + 3}"}
    acknowledged: list[str] = []
    child_id, given, family, born = children[0]
    client: httpx.AsyncClient | None = None
    try:
        with running(capped, port):
            client = await _enrol(f"http://127.0.0.1:{port}", "ada@riverside.example.org", code)
            await _search(client, given, family, born)
            refused = None
            for n in range(400):
                answer = await record(client, child_id, f"{ROLE} capped {n}")
                if recorded(answer):
                    acknowledged.append(f"{ROLE} capped {n}")
                    continue
                refused = answer
                break
            assert refused is not None, "the capped database never refused a write"
            assert_clean_503(refused)
        raised = {**env, "SIGNPOST_DATABASE_URL": f"sqlite:///{path}?max_page_count={pages + 10_000}"}
        with running(raised, port):  # the operator raises the cap; the same session carries on
            assert recorded(await record(client, child_id, f"{ROLE} after the cap"))
            acknowledged.append(f"{ROLE} after the cap")
    finally:
        if client is not None:
            await client.aclose()
    roles = [r[0] for r in await database.rows("SELECT role FROM involvement WHERE role LIKE 'Outage%'")]
    assert sorted(roles) == sorted(acknowledged)  # the refused write left no row
    assert database.integrity() == "ok"
    assert _run("audit", "verify", env=env).returncode == 0


# --- PostgreSQL out of reach --------------------------------------------------------------------


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused)
    and restored, on a thread of its own."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = _free_port()
        self.up = True
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(timeout=10)

    async def _serve(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        def drop() -> None:
            self.up = False
            for writer in list(self.writers):
                writer.transport.abort()

        self.loop.call_soon_threadsafe(drop)
        time.sleep(0.2)

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self, "up", True)
        time.sleep(0.05)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
async def postgres_database(postgres_dsn: str | None) -> AsyncIterator[str]:
    """The name of a database of the test's own."""
    require_postgres(postgres_dsn)
    async with own_database(POSTGRES_ADMIN_DSN, "signpost_outage") as dsn:
        yield dsn.rsplit("/", 1)[1]


async def test_postgres_out_of_reach_fails_cleanly_and_service_resumes_within_10_seconds(
    tmp_path: Path, postgres_database: str
) -> None:
    admin = urlsplit(POSTGRES_ADMIN_DSN)  # the configured server, whoever and wherever it is
    proxy = Proxy(admin.hostname or "127.0.0.1", admin.port or 5432)
    try:
        port = _free_port()
        login = admin.netloc.rsplit("@", 1)[0] if "@" in admin.netloc else "postgres"
        env = deployment_env(
            tmp_path / "data", port, f"postgresql://{login}@127.0.0.1:{proxy.port}/{postgres_database}"
        )
        code = prepare(env)
        database = Database(
            {**env, "SIGNPOST_DATABASE_URL": f"{POSTGRES_ADMIN_DSN.rsplit('/', 1)[0]}/{postgres_database}"}
        )
        children = await _children(env, database)
        acknowledged: list[str] = []
        with running(env, port):
            base = f"http://127.0.0.1:{port}"
            client = await _enrol(base, "ada@riverside.example.org", code)
            try:
                child_id, given, family, born = children[0]
                await _search(client, given, family, born)
                for n in range(3):
                    if recorded(await record(client, child_id, f"{ROLE} {n}")):
                        acknowledged.append(f"{ROLE} {n}")
                assert len(acknowledged) == 3
                proxy.cut()
                ready = httpx.get(f"{base}/readyz", timeout=10)
                assert ready.status_code == 503
                assert ready.json()["database"] == "unreachable"
                for _ in range(3):  # a pooled connection may fail first, then a new one is refused
                    assert_clean_503(await record(client, child_id, f"{ROLE} while down"))
                proxy.restore()
                back = time.monotonic()
                resumed = None
                while time.monotonic() - back < 15:
                    answer = await record(client, child_id, f"{ROLE} after")
                    if recorded(answer):
                        resumed = time.monotonic() - back
                        acknowledged.append(f"{ROLE} after")
                        break
                    assert answer.status_code == 503, answer.text[:300]
                    await asyncio.sleep(0.2)
                assert resumed is not None
                assert resumed < 10
                print(f"service resumed {resumed:.2f} s after PostgreSQL came back")
                assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
            finally:
                await client.aclose()
        roles = [r[0] for r in await database.rows("SELECT role FROM involvement WHERE role LIKE 'Outage%'")]
        assert sorted(roles) == sorted(acknowledged)  # nothing lost, nothing half-written
        assert (
            _run("audit", "verify", env={**env, "SIGNPOST_DATABASE_URL": database.dsn or ""}).returncode == 0
        )
    finally:
        proxy.close()
