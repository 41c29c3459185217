"""The audit trail's background work, done by one server process at a time (the one holding
``background.lock`` in the checkpoint directory): signed checkpoints every few seconds when due,
on SQLite a passive checkpoint of the write-ahead log as often, and every minute a purge of
spent counters; police disclosure drafts not sent within a day lapse, and each disclosure request
past its decision deadline raises an alert. Each process writes a final checkpoint at shutdown,
so a clean stop leaves every row covered by a signature."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import database
from app.audit import checkpoints, service
from app.audit.chain import GENESIS, ChainVerifier, Problem
from app.audit.tables import AuditEntry
from app.disclosure import service as disclosure
from app.search import quotas
from app.settings import Settings

log = logging.getLogger("signpost.audit")

CHECK_INTERVAL_SECONDS = 2.0
PURGE_INTERVAL_SECONDS = 60.0
#: Rows read and checked between chances for requests to run, before a checkpoint is signed.
VERIFY_PAGE_ROWS = 250


#: The largest log size each checkpoint directory has been seen at by this process.
_seen: dict[Path, int] = {}


async def checkpoint(
    settings: Settings, key: Ed25519PrivateKey, now: datetime, *, force: bool = False
) -> checkpoints.Checkpoint | None:
    """Write a checkpoint of the committed log if one is due (or ``force``); None otherwise.

    Nothing is signed over a log that has shrunk, or whose rows since the newest checkpoint no
    longer follow on from it: that is logged as critical instead, so that a truncation or a
    rewrite after the newest checkpoint is not blessed by the next one.
    """
    head = await service.head()
    directory = settings.checkpoint_dir
    if head.size < _seen.get(directory, 0):
        log.critical("audit.log_shrank size=%s was=%s: not signing", head.size, _seen[directory])
        return None
    _seen[directory] = head.size
    latest = await asyncio.to_thread(checkpoints.newest, directory, key.public_key(), settings.audit_log_name)
    if latest is not None and head.size < latest.size:
        log.critical("audit.log_shorter_than_checkpoint size=%s checkpoint=%s", head.size, latest.size)
        return None
    every = timedelta(minutes=settings.checkpoint_minutes)
    if not checkpoints.is_due(
        latest, head.size, now, every_rows=settings.checkpoint_rows, every=every, force=force
    ):
        return None
    problem = await _since(latest, head.size)
    if problem is not None:
        log.critical("audit.chain_broken %s: not signing", problem)
        return None
    return await asyncio.to_thread(
        checkpoints.write_if_due,
        settings.checkpoint_dir,
        key,
        settings.audit_log_name,
        size=head.size,
        head_hash=head.entry_hash,
        now=now,
        every_rows=settings.checkpoint_rows,
        every=every,
        force=force,
    )


async def _since(latest: checkpoints.Checkpoint | None, size: int) -> Problem | None:
    """The first problem in rows after ``latest`` up to ``size``, checked from its hash."""
    first = latest.size if latest else 1  # the checkpoint's own row too: it must still match
    claims = [latest.claim()] if latest else []
    verifier = ChainVerifier(claims, first_seq=first, start_hash=GENESIS)
    checked = 0
    async for row in service.rows_from(first, page=VERIFY_PAGE_ROWS):
        if row["seq"] > size:
            break
        checked += 1
        if checked % VERIFY_PAGE_ROWS == 0:
            await asyncio.sleep(0)  # let requests in between pages: this runs beside them
        if latest is not None and row["seq"] == latest.size:
            if row["entry_hash"] != latest.head_hash:
                return Problem(row["seq"], "checkpoint_mismatch", "no longer matches the newest checkpoint")
            verifier = ChainVerifier(first_seq=latest.size + 1, start_hash=latest.head_hash)
            continue
        if verifier.feed(row) is not None:
            return verifier.problem
    if verifier.expected <= size:
        return Problem(verifier.expected, "missing", "is missing since the newest checkpoint")
    return None


class _Leader:
    """Holds an exclusive lock on ``background.lock`` in the checkpoint directory while it
    lives: one worker process does the background work and the others stand by. The lock goes
    with the process that held it, so another takes over when it stops."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "background.lock"
        self.handle: int | None = None

    def holds(self) -> bool:
        if self.handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)  # read-only locks too
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                return False
            self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            os.close(self.handle)  # closing the file releases the lock
            self.handle = None


async def run(settings: Settings, key: Ed25519PrivateKey, clock: Callable[[], datetime]) -> None:
    """Run until cancelled, in whichever worker process holds the lead; a failure is logged and
    tried again on the next round."""
    leader = _Leader(settings.checkpoint_dir)
    try:
        await _rounds(settings, key, clock, leader)
    finally:
        leader.release()


async def _rounds(
    settings: Settings, key: Ed25519PrivateKey, clock: Callable[[], datetime], leader: _Leader
) -> None:
    since_purge = PURGE_INTERVAL_SECONDS
    while True:
        try:
            if not leader.holds():
                await asyncio.sleep(CHECK_INTERVAL_SECONDS)
                continue
        except OSError as exc:  # the lock file cannot be opened: try again next round
            log.error("audit.background_lock_failed error=%s", type(exc).__name__)
            await asyncio.sleep(CHECK_INTERVAL_SECONDS)
            continue
        # Each task on its own: one that fails (e.g. a checkpoint directory gone read-only)
        # must not stop the others; each is tried again on the next round.
        tasks: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("checkpoint", lambda: checkpoint(settings, key, clock())),
            ("wal", lambda: database.checkpoint_wal(AuditEntry._meta.db)),
        ]
        if since_purge >= PURGE_INTERVAL_SECONDS:
            since_purge = 0.0
            tasks.append(("purge", lambda: quotas.purge(clock())))
            tasks.append(("disclosure_overdue", lambda: disclosure.raise_overdue(clock())))
            tasks.append(("disclosure_drafts", lambda: disclosure.lapse_drafts(clock())))
        for name, task in tasks:
            try:
                await task()
            except Exception as exc:  # keep going: the next round may succeed (e.g. database back)
                log.error("audit.background_failed task=%s error=%s", name, type(exc).__name__)
        await asyncio.sleep(CHECK_INTERVAL_SECONDS)
        since_purge += CHECK_INTERVAL_SECONDS
