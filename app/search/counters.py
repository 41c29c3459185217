"""Counters in the database (``usage_counter``), shared by every worker process: quotas, and the
activity that alerts watch. Each is a key and a window's end; it is added to inside the write
unit of what it counts."""

from __future__ import annotations

from datetime import datetime

from app.database import Tx
from app.records.ids import row_ids
from app.search.tables import UsageCounter


async def add(tx: Tx, key: str, ends: datetime, amount: int = 1) -> int:
    """Add ``amount`` to the counter ``key`` (made if missing) and return its new value."""
    await tx.run(
        UsageCounter.insert(UsageCounter(id=row_ids.next(), key=key, uses=0, window_ends=ends)).on_conflict(
            target=UsageCounter.key, action="DO NOTHING"
        )
    )
    rows = await tx.run(
        UsageCounter.update({UsageCounter.uses: UsageCounter.uses + amount})
        .where(UsageCounter.key == key)
        .returning(UsageCounter.uses)
    )
    return int(rows[0]["uses"])
