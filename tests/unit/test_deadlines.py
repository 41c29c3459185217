"""The subject access clock: one calendar month to the corresponding date (or the month's last
day), extensions of up to two months, paused days added, and UK calendar days."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.subject_access.deadlines import add_months, due_date, uk_date

DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31))


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February: the last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2027, 1, 29), date(2027, 2, 28)),
        (date(2026, 1, 28), date(2026, 2, 28)),
        (date(2028, 2, 29), date(2028, 3, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 8, 31), date(2026, 9, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),  # across the year
        (date(2026, 11, 24), date(2026, 12, 24)),
        (date(2026, 2, 28), date(2026, 3, 28)),  # the corresponding date, not the month's end
    ],
)
def test_one_calendar_month_to_the_corresponding_date(received: date, due: date) -> None:
    assert due_date(received) == due


def test_extensions_count_from_receipt() -> None:
    assert due_date(date(2026, 11, 30), extension_months=1) == date(2027, 1, 30)
    assert due_date(date(2026, 11, 30), extension_months=2) == date(2027, 2, 28)
    assert due_date(date(2027, 11, 30), extension_months=2) == date(2028, 2, 29)
    assert due_date(date(2026, 11, 24), extension_months=2, paused_days=5) == date(2027, 3, 1)
    with pytest.raises(ValueError, match="one or two months"):
        due_date(date(2026, 1, 1), extension_months=3)
    with pytest.raises(ValueError, match="negative"):
        due_date(date(2026, 1, 1), paused_days=-1)


@given(DAYS, st.integers(min_value=0, max_value=36))
def test_the_corresponding_date_or_the_last_day_of_that_month(start: date, months: int) -> None:
    due = add_months(start, months)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    last = calendar.monthrange(due.year, due.month)[1]
    assert due.day == min(start.day, last)


@given(DAYS, DAYS)
def test_a_later_receipt_is_never_due_earlier(one: date, two: date) -> None:
    early, late = sorted((one, two))
    assert due_date(early) <= due_date(late)


@given(DAYS, st.integers(min_value=0, max_value=2), st.integers(min_value=0, max_value=400))
def test_due_dates_fall_between_the_month_bounds(received: date, extension: int, paused: int) -> None:
    due = due_date(received, extension_months=extension, paused_days=paused)
    months = 1 + extension
    # At least 28 days a month, at most 31, plus every paused day.
    assert (
        received + timedelta(days=28 * months + paused)
        <= due
        <= received + timedelta(days=31 * months + paused)
    )
    assert due - timedelta(days=paused) == add_months(received, months)


def test_days_are_uk_days() -> None:
    assert uk_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)  # 00:30 BST
    assert uk_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)  # GMT
