"""Normalisation shared by writing and searching, so that both sides compute the same index.

Names fold case and accents and drop everything that is not a letter, so "O'Brien-Smith",
"obrien smith" and "OBRIEN SMITH" are one name, and "Zoë" is "zoe". Postcodes drop spaces and
fold case. Dates are ISO 8601.
"""

from __future__ import annotations

import unicodedata
from datetime import date


def normalise_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def normalise_postcode(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def format_postcode(postcode: str) -> str:
    """The usual written form: outward code, a space, then the three-character inward code."""
    compact = normalise_postcode(postcode)
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def name_dob_key(family_name: str, date_of_birth: date) -> str:
    return f"{normalise_name(family_name)}|{date_of_birth.isoformat()}"


def given_dob_key(given_name: str, date_of_birth: date) -> str:
    return f"{normalise_name(given_name)}|{date_of_birth.isoformat()}"
