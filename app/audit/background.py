"""The audit trail's background work in each server process: signed checkpoints every few
seconds when due, and every minute a scan for alert patterns and a purge of spent quota
counters. A final checkpoint is written at shutdown, so a clean stop leaves every row covered
by a signature."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import alerts, checkpoints, service
from app.audit.chain import GENESIS, ChainVerifier, Problem
from app.search import quotas
from app.settings import Settings

log = logging.getLogger("signpost.audit")

CHECK_INTERVAL_SECONDS = 2.0
SCAN_INTERVAL_SECONDS = 60.0


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
    async for row in service.rows_from(first):
        if row["seq"] > size:
            break
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


async def run(settings: Settings, key: Ed25519PrivateKey, clock: Callable[[], datetime]) -> None:
    """Run until cancelled; a failure is logged and tried again on the next round."""
    since_scan = SCAN_INTERVAL_SECONDS
    while True:
        try:
            await checkpoint(settings, key, clock())
            if since_scan >= SCAN_INTERVAL_SECONDS:
                since_scan = 0.0
                await alerts.scan(clock())
                await quotas.purge(clock())
        except Exception as exc:  # keep going: the next round may succeed (e.g. database back)
            log.error("audit.background_failed error=%s", type(exc).__name__)
        await asyncio.sleep(CHECK_INTERVAL_SECONDS)
        since_scan += CHECK_INTERVAL_SECONDS
