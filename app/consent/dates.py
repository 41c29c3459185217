"""Birthdays as UK law counts them, in the UK's own calendar.

A person born on 29 February reaches an age on 1 March in a year without 29 February (the rule
of the Age of Legal Capacity (Scotland) Act 1991 s 6 and the common practice in England and
Wales). The day is the UK day (Europe/London), whatever the server's time zone: a young person
born on 24 November turns 18 at midnight UK time, not at midnight UTC.
"""

from __future__ import annotations

from datetime import date

from app.subject_access.deadlines import add_months, uk_date

__all__ = ["birthday", "eighteenth_birthday", "invitation_day", "latest_keep_until", "month_key", "uk_date"]

ADULT_YEARS = 18
LONGEST_YEARS = 25  # consent lasts at most to the 25th birthday (care leavers' support age)


def birthday(born: date, years: int) -> date:
    """The day someone born on ``born`` reaches ``years`` (29 February: 1 March when absent)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February in a common year
        return date(born.year + years, 3, 1)


def eighteenth_birthday(born: date) -> date:
    return birthday(born, ADULT_YEARS)


def latest_keep_until(born: date) -> date:
    """The latest day a young person may choose to keep their record until: the 25th birthday
    (the record is deleted on the day chosen)."""
    return birthday(born, LONGEST_YEARS)


def invitation_day(born: date, months_before: int) -> date:
    """The day the young person is invited to decide: ``months_before`` months before 18."""
    return add_months(eighteenth_birthday(born), -months_before)


def month_key(day: date) -> str:
    """``YYYY-MM``: what the blind index of the month someone turns 18 is made from."""
    return f"{day.year:04d}-{day.month:02d}"
