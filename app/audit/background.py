"""The audit trail's background work in each server process: signed checkpoints every few
seconds when due, and a scan for alert patterns every minute. A final checkpoint is written
at shutdown, so a clean stop leaves every row covered by a signature."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import alerts, checkpoints, service
from app.settings import Settings

log = logging.getLogger("signpost.audit")

CHECK_INTERVAL_SECONDS = 2.0
SCAN_INTERVAL_SECONDS = 60.0


async def checkpoint(
    settings: Settings, key: Ed25519PrivateKey, now: datetime, *, force: bool = False
) -> checkpoints.Checkpoint | None:
    """Write a checkpoint of the committed log if one is due (or ``force``); None otherwise."""
    head = await service.head()
    if head.size == 0:
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
        every=timedelta(minutes=settings.checkpoint_minutes),
        force=force,
    )


async def run(settings: Settings, key: Ed25519PrivateKey, clock: Callable[[], datetime]) -> None:
    """Run until cancelled; a failure is logged and tried again on the next round."""
    since_scan = SCAN_INTERVAL_SECONDS
    while True:
        try:
            await checkpoint(settings, key, clock())
            if since_scan >= SCAN_INTERVAL_SECONDS:
                since_scan = 0.0
                await alerts.scan(clock())
        except Exception as exc:  # keep going: the next round may succeed (e.g. database back)
            log.error("audit.background_failed error=%s", type(exc).__name__)
        await asyncio.sleep(CHECK_INTERVAL_SECONDS)
        since_scan += CHECK_INTERVAL_SECONDS
