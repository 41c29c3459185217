"""Counters in the database (``usage_counter``), shared by every worker process: quotas, and the
activity that alerts watch. Each is a key and a window's end; it is added to inside the write
unit of what it counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piccolo.querystring import QueryString

from app.database import Tx
from app.records.ids import row_ids

#: One statement on SQLite and PostgreSQL alike (the ORM would need two).
_ADD = (
    'INSERT INTO "usage_counter" ("id", "key", "uses", "window_ends") VALUES ({}, {}, {}, {}) '
    'ON CONFLICT ("key") DO UPDATE SET "uses" = "usage_counter"."uses" + excluded."uses" '
    'RETURNING "uses"'
)


def window(moment: datetime, *, hourly: bool) -> tuple[str, datetime]:
    """The UTC clock hour or day ``moment`` falls in: its label for a key, and its end."""
    utc = moment.astimezone(UTC)
    if hourly:
        start = utc.replace(minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%dT%H"), start + timedelta(hours=1)
    start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m-%d"), start + timedelta(days=1)


async def add(tx: Tx, key: str, ends: datetime, amount: int = 1) -> int:
    """Add ``amount`` to the counter ``key`` (made if missing) and return its new value."""
    rows = await tx.run(QueryString(_ADD, row_ids.next(), key, amount, ends))
    return int(rows[0]["uses"])
