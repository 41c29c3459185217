"""The legal clock of a subject access request.

The answer is due one calendar month after the day of receipt, on the corresponding date, or on
the last day of that month where it has none (31 January -> 28 or 29 February). An officer may
extend it by up to two further months, counted the same way from the day of receipt. While the
request waits for the requester to clarify it the clock stops: the days it was paused are
added to the deadline when it restarts.

Days are UK calendar days (Europe/London), whatever the server's own time zone.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
MAX_EXTENSION_MONTHS = 2


def uk_date(moment: datetime) -> date:
    """The day in the UK at ``moment`` (an aware datetime)."""
    return moment.astimezone(UK).date()


def add_months(start: date, months: int) -> date:
    """The corresponding date ``months`` calendar months after ``start``, or the last day of
    that month when it is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_date(received_on: date, *, extension_months: int = 0, paused_days: int = 0) -> date:
    """When the answer is due: one month from receipt, plus any extension, plus the days the
    clock was stopped for clarification."""
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise ValueError("an extension is of one or two months")
    if paused_days < 0:
        raise ValueError("paused days cannot be negative")
    return add_months(received_on, 1 + extension_months) + timedelta(days=paused_days)
