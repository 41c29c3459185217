"""The GOV.UK three-field date input's parser (``app.web.forms.date_from_fields``), fuzzed: any
text in any of the three fields gives a date, or a message saying what is wrong, or nothing when
all three are empty; never an exception, and a date only when the three fields spell it.

``SIGNPOST_FUZZ_CASES`` sets the cases (1,000 in the test command; docs/reliability.md records
the 100,000-case run)."""

from __future__ import annotations

import os
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.web.forms import date_from_fields

CASES = int(os.environ.get("SIGNPOST_FUZZ_CASES", "1000"))
digits = st.text(alphabet="0123456789", min_size=0, max_size=6)
field = st.one_of(
    st.none(),
    digits,
    st.integers(-(10**6), 10**6).map(str),
    st.text(max_size=40),  # any Unicode: other scripts' digits, spaces, controls, markup
    st.sampled_from(["29", "02", "2024", "31", "13", "0", " 7 ", "٢", "²", "1e3", "0x1f", "-1"]),
)


@settings(max_examples=CASES, deadline=None, database=None)
@given(day=field, month=field, year=field)
def test_the_date_input_never_fails_and_gives_a_date_only_when_the_fields_spell_one(
    day: str | None, month: str | None, year: str | None
) -> None:
    data = {
        key: value
        for key, value in (("dob-day", day), ("dob-month", month), ("dob-year", year))
        if value is not None
    }
    born, error, values = date_from_fields(data, "dob", "Date of birth")
    assert set(values) == {"day", "month", "year"}
    if born is None:
        empty = not any(v.strip() for v in data.values())
        assert (error is None) == empty
        assert error is None or error.startswith("Date of birth")
    else:
        assert error is None
        assert isinstance(born, date)
        assert born == date(int(year or ""), int(month or ""), int(day or ""))
        assert len((year or "").strip()) == 4
