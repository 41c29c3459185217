"""Per-user usage counters for the anti-trawling quotas, shared by every worker process."""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Timestamptz, Varchar
from piccolo.table import Table


class UsageCounter(Table, tablename="usage_counter"):
    """How many times ``key`` (e.g. ``search:<practitioner>:2026-11-24T10``) was used in its
    window. One row per practitioner, kind and window; old windows are purged."""

    id = BigInt(primary_key=True)
    key = Varchar(length=80, null=False, unique=True)
    uses = Integer(null=False, default=0)
    window_ends = Timestamptz(null=False, index=True)


SEARCH_TABLES: list[type[Table]] = [UsageCounter]
