"""Form helpers shared by every page: the GOV.UK three-field date input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date


def date_from_fields(
    data: Mapping[str, str], name: str, label: str
) -> tuple[date | None, str | None, dict[str, str]]:
    """Read ``{name}-day``, ``{name}-month`` and ``{name}-year``. Returns the date (None when all
    three are empty), a GOV.UK-style error message or None, and the values to show again."""
    values = {part: data.get(f"{name}-{part}", "").strip()[:8] for part in ("day", "month", "year")}
    if not any(values.values()):
        return None, None, values
    missing = [part for part, value in values.items() if not value]
    if missing:
        return None, f"{label} must include a {' and '.join(missing)}", values
    if not all(value.isascii() and value.isdecimal() for value in values.values()):
        return None, f"{label} must be a real date, in numbers", values
    if len(values["day"]) > 2 or len(values["month"]) > 2:
        return None, f"{label} must be a real date", values
    if len(values["year"]) != 4:
        return None, f"{label} year must include 4 numbers", values
    try:
        return date(int(values["year"]), int(values["month"]), int(values["day"])), None, values
    except ValueError:
        return None, f"{label} must be a real date", values
