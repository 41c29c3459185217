"""The people a practitioner searches for without Signpost access of their own (app/api/web.py
has the pages): who a session acts for now, and who an audit entry's ``on_behalf:ID`` names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.api.tables import OnBehalfOf
from app.crypto.keyring import Keyring
from app.identity.sessions import SessionState

TABLE = "on_behalf_of"
# Read on every search and record view: a fixed statement, not a query built each time.
_ACTING_FOR = (
    'SELECT * FROM "on_behalf_of" WHERE "session_id" = {} AND "ended_at" IS NULL ORDER BY "id" DESC LIMIT 1'
)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a practitioner acts for."""

    id: int
    name: str
    organisation: str
    role: str
    telephone: str

    @property
    def subject(self) -> str:
        return f"on_behalf:{self.id}"


def _decrypt(keyring: Keyring, row: dict[str, Any]) -> Person:
    def plain(column: str) -> str:
        return keyring.decrypt(f"{TABLE}.{column}", row["id"], bytes(row[column]))

    return Person(row["id"], plain("name"), plain("organisation"), plain("role"), plain("telephone"))


async def acting_for(keyring: Keyring, session: SessionState | None) -> Person | None:
    """Whom this session is searching for now, if anyone."""
    if session is None:
        return None
    rows = await OnBehalfOf.raw(_ACTING_FOR, session.id).run()
    return _decrypt(keyring, rows[0]) if rows else None


async def people(keyring: Keyring, ids: set[int]) -> dict[int, Person]:
    """The people named by ``on_behalf:ID`` subjects, for a subject-access answer."""
    if not ids:
        return {}
    rows = await OnBehalfOf.select().where(OnBehalfOf.id.is_in(sorted(ids))).run()
    return {r["id"]: _decrypt(keyring, r) for r in rows}
