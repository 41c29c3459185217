"""Notices that another practitioner is now involved with a child someone works with."""

from __future__ import annotations

from piccolo.columns import BigInt, Timestamptz
from piccolo.table import Table


class Notification(Table, tablename="notification"):
    """For ``practitioner_id``: someone else recorded involvement with ``child_id``. Holds IDs
    only; the home page shows it, and the record says who."""

    id = BigInt(primary_key=True)
    practitioner_id = BigInt(null=False, index=True)
    child_id = BigInt(null=False)
    created_at = Timestamptz(null=False)
    read_at = Timestamptz(null=True, default=None)


INVOLVEMENT_TABLES: list[type[Table]] = [Notification]
