"""Browser tests: Playwright drives Debian's Chromium against the real service in a subprocess.

Playwright's own browser download does not work here, so the tests use ``/usr/bin/chromium``;
without it they fail rather than skip, since a skipped accessibility check is a silent one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, CDPSession, ConsoleMessage, sync_playwright

from tests.browser.tab import Tab

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP localhost 127.0.0.1",  # the service listens on IPv4 loopback
]
SERVER_START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once /healthz answers 200; fail with the server's log if it exits or answers otherwise."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"signpost serve exited with {process.returncode}:\n{_tail(log)}")
        try:
            port = base_url.rsplit(":", 1)[1]
            host = {"host": base_url.split("//", 1)[1]}  # the origin's Host, sent to the IPv4 listener
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", headers=host, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code == 200:
            return
        pytest.fail(f"GET /healthz answered {response.status_code}: {response.text}\n{_tail(log)}")
    pytest.fail(f"signpost serve did not answer /healthz in {SERVER_START_SECONDS}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


SIGNPOST = str(Path(sys.executable).parent / "signpost")


@pytest.fixture(scope="session")
def live_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the live service: its own data directory and a free port. Software
    and virtual authenticators give "none" attestation, so the development switch is on."""
    data_dir = tmp_path_factory.mktemp("live-server")
    port = _free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SIGNPOST_")}
    environment |= {
        "SIGNPOST_DATA_DIR": str(data_dir),
        "SIGNPOST_ORIGIN": f"http://localhost:{port}",
        "SIGNPOST_DEV_ALLOW_NONE_ATTESTATION": "1",
        "SIGNPOST_PORT": str(port),
    }
    return environment


@pytest.fixture(scope="session")
def live_server(live_env: dict[str, str]) -> Iterator[str]:
    """The real service, migrated and serving on a free port with two worker processes (as in
    production: one per core, sharing the database); yields its base URL."""
    environment = live_env
    data_dir = Path(environment["SIGNPOST_DATA_DIR"])
    port = environment["SIGNPOST_PORT"]
    base_url = environment["SIGNPOST_ORIGIN"]

    migrated = subprocess.run(
        [SIGNPOST, "migrate"], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    if migrated.returncode != 0:
        pytest.fail(f"signpost migrate failed:\n{migrated.stdout}{migrated.stderr}")

    log = data_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [SIGNPOST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; install it with `apt-get install -y chromium`",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium: Browser, live_server: str) -> Iterator[Tab]:
    context = chromium.new_context(base_url=live_server)
    tab = Tab(page=context.new_page())

    def record(message: ConsoleMessage) -> None:
        tab.console.append(f"{message.type}: {message.text}")

    tab.page.on("console", record)
    tab.page.on("pageerror", lambda error: tab.console.append(f"pageerror: {error}"))
    yield tab
    context.close()


@pytest.fixture
def cdp(tab: Tab) -> Iterator[CDPSession]:
    session = tab.page.context.new_cdp_session(tab.page)
    session.send("WebAuthn.enable", {"enableUI": False})
    yield session
    session.send("WebAuthn.disable")
