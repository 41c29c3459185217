"""The schema is held to docs/data-dictionary.md: no column exists that the dictionary lacks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from piccolo.columns import Bytea, Varchar

from app.api.tables import API_ENCRYPTED, API_TABLES
from app.consent.tables import CONSENT_ENCRYPTED, CONSENT_TABLES
from app.database import AnyEngine
from app.disclosure import codes as disclosure_codes
from app.disclosure.tables import DISCLOSURE_ENCRYPTED, DISCLOSURE_TABLES, DisclosureRequest
from app.feeds import corrections as feed_codes
from app.feeds.tables import FEED_ENCRYPTED, FEED_TABLES
from app.records import codes
from app.records.tables import ENCRYPTED_COLUMNS, TABLES, LocalAuthority
from app.settings import Settings
from app.subject_access import codes as subject_access_codes
from app.subject_access.tables import SUBJECT_ACCESS_ENCRYPTED, SUBJECT_ACCESS_TABLES

DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def dictionary_rows() -> dict[tuple[str, str], tuple[str, str]]:
    rows = {}
    for line in DICTIONARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("table", "---") and not cells[0].startswith("-"):
            rows[(cells[0], cells[1])] = (cells[2], cells[3])
    return rows


#: The tables the dictionary lists: the record store, subject access, police disclosure requests,
#: consent past 18, feeds with their review queue and shielding, and API clients and access on
#: behalf of others.
DOCUMENTED_TABLES = [
    *TABLES,
    *SUBJECT_ACCESS_TABLES,
    *DISCLOSURE_TABLES,
    *CONSENT_TABLES,
    *FEED_TABLES,
    *API_TABLES,
]
DOCUMENTED_ENCRYPTED = {
    **ENCRYPTED_COLUMNS,
    **SUBJECT_ACCESS_ENCRYPTED,
    **DISCLOSURE_ENCRYPTED,
    **CONSENT_ENCRYPTED,
    **FEED_ENCRYPTED,
    **API_ENCRYPTED,
}


def code_columns(tables: list[Any] = DOCUMENTED_TABLES) -> set[tuple[str, str]]:
    return {(t._meta.tablename, c._meta.db_column_name) for t in tables for c in t._meta.columns}


def code_list(name: str, table: str) -> Any:
    if table == DisclosureRequest._meta.tablename:
        return getattr(disclosure_codes, name)
    if table == "shielding":
        return getattr(feed_codes, name)
    return getattr(codes, name, None) or getattr(subject_access_codes, name)


def test_the_dictionary_lists_exactly_the_tables_columns() -> None:
    documented = set(dictionary_rows())
    assert len(documented) > 40
    assert code_columns() - documented == set(), "columns missing from docs/data-dictionary.md"
    assert documented - code_columns() == set(), "dictionary rows with no column"


def test_encrypted_columns_are_exactly_the_ones_documented_as_encrypted() -> None:
    documented = {key for key, (stored, _) in dictionary_rows().items() if stored == "encrypted"}
    declared = {(t._meta.tablename, c) for t, cols in DOCUMENTED_ENCRYPTED.items() for c in cols}
    binary = {
        (t._meta.tablename, c._meta.db_column_name)
        for t in DOCUMENTED_TABLES
        for c in t._meta.columns
        if isinstance(c, Bytea)
    }
    assert documented == declared == binary


def test_plain_text_columns_carry_the_documented_bound() -> None:
    rows = dictionary_rows()
    for table in DOCUMENTED_TABLES:
        for column in table._meta.columns:
            if isinstance(column, Varchar):
                _, bound = rows[(table._meta.tablename, column._meta.db_column_name)]
                code = re.match(r"code `(\w+)`", bound)
                if code:  # a code list: every code must fit the column
                    values = [v.value for v in code_list(code.group(1), table._meta.tablename)]
                    assert max(map(len, values)) <= (column.length or 0), bound
                    continue
                match = re.match(r"(\d+)", bound)
                assert match, (table, column)
                assert int(match.group(1)) == column.length, (
                    table._meta.tablename,
                    column._meta.db_column_name,
                )


def test_nothing_about_a_child_is_free_text() -> None:
    forbidden = re.compile(r"note|comment|free|description|detail|remark|text", re.IGNORECASE)
    about_children = [*TABLES, *SUBJECT_ACCESS_TABLES, *CONSENT_TABLES, *FEED_TABLES]
    assert not [key for key in code_columns(about_children) if forbidden.search(key[1])]


def test_a_disclosure_requests_free_text_is_about_the_request_and_encrypted() -> None:
    """The officer's justification and the approver's reasons are the only free text outside
    the record store: about the request, bounded, and encrypted."""
    rows = dictionary_rows()
    free = {
        column
        for (table, column), (stored, bound) in rows.items()
        if table == "disclosure_request" and "characters" in bound
    }
    assert free == {"justification", "decision_note"}
    assert set(DISCLOSURE_ENCRYPTED[DisclosureRequest]) >= free


async def test_the_migrated_database_matches_the_dictionary(engine: AnyEngine, settings: Settings) -> None:
    documented = set(dictionary_rows())
    tables = sorted({t for t, _ in documented})
    found: set[tuple[str, str]] = set()
    for table in tables:
        if settings.database.kind == "sqlite":
            rows = await engine.run_ddl(f"PRAGMA table_info({table})")
            found |= {(table, r["name"]) for r in rows}
        else:
            rows = await LocalAuthority.raw(
                "SELECT column_name FROM information_schema.columns WHERE table_name = {}", table
            ).run()
            found |= {(table, r["column_name"]) for r in rows}
    assert found == documented
