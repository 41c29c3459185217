"""The invitation letters an authority prints and posts: no email, no text message.

A letter is printable while its invitation still holds the code encrypted (``letter_code``).
Printing shows a batch of letters and is audited against each young person; marking the batch
sent erases the codes, so a letter cannot be printed twice and the code exists only on paper and
as an argon2id hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.audit import service as audit
from app.audit.service import Actor, Entry
from app.consent.codes import CODE_GRACE_DAYS, hash_code, new_code
from app.consent.dates import eighteenth_birthday, latest_keep_until, uk_date
from app.consent.tables import ConsentInvitation
from app.crypto.keyring import Keyring
from app.database import Tx
from app.identity.service import PractitionerView
from app.records.codes import SENSITIVE_SERVICES
from app.records.schemas import Address
from app.records.service import RecordNotFoundError, load_child
from app.records.tables import Child

BATCH = 100  # letters on one printed page


@dataclass(frozen=True, slots=True)
class Letter:
    invitation_id: int
    lookup: str  # which code the letter carries: marking it sent erases that code only
    given_name: str
    family_name: str
    address: Address | None
    code: str
    eighteenth: date
    latest: date
    expires_on: date
    services: tuple[str, ...]


def _unsent(authority_id: int) -> Any:
    return ConsentInvitation.letter_code.is_not_null() & (
        ConsentInvitation.child.local_authority == authority_id
    )


async def unsent_count(authority_id: int) -> int:
    return int(await ConsentInvitation.count().where(_unsent(authority_id)).run())


async def printable(keyring: Keyring, user: PractitionerView, now: datetime) -> list[Letter]:
    """Up to :data:`BATCH` unsent letters of the user's authority, oldest first; audited."""
    rows = (
        await ConsentInvitation.select(
            ConsentInvitation.id,
            ConsentInvitation.child,
            ConsentInvitation.lookup,
            ConsentInvitation.letter_code,
            ConsentInvitation.expires_on,
        )
        .where(_unsent(user.local_authority_id))
        .order_by(ConsentInvitation.id)
        .limit(BATCH)
        .run()
    )
    letters = []
    shown = []
    for row in rows:
        try:
            record = await load_child(keyring, row["child"])
        except RecordNotFoundError:  # deleted by a retention run meanwhile
            continue
        shown.append(row)
        details = record.details
        letters.append(
            Letter(
                invitation_id=row["id"],
                lookup=row["lookup"],
                given_name=details.given_name,
                family_name=details.family_name,
                address=details.address,
                code=keyring.decrypt("consent_invitation.letter_code", row["id"], bytes(row["letter_code"])),
                eighteenth=eighteenth_birthday(details.date_of_birth),
                latest=latest_keep_until(details.date_of_birth),
                expires_on=row["expires_on"],
                # A letter may be opened by someone else at home: it never names a sexual
                # health, mental health or substance misuse service.
                services=tuple(
                    i.service_name
                    for i in details.involvements
                    if i.end_date is None and i.service_type not in SENSITIVE_SERVICES
                ),
            )
        )
    actor = Actor.of(user)
    if letters:
        await audit.record_many(
            Entry(
                "consent.letters_printed",
                actor,
                now,
                child_id=row["child"],
                child_authority_id=user.local_authority_id,
                subjects=(f"consent_invitation:{row['id']}",),
            )
            for row in shown
        )
    return letters


_PRINTED = re.compile(r"^(\d{1,19}):([0-9A-Z]{8})$")


def parse_printed(text: str) -> list[tuple[int, str]]:
    """The letters a printed page carried: ``invitation ID:lookup`` pairs, comma-separated.
    Anything else is ignored (the form is the service's own)."""
    pairs = []
    for item in text.split(",")[:BATCH]:
        match = _PRINTED.match(item.strip())
        if match and int(match.group(1)) < 2**63:
            pairs.append((int(match.group(1)), match.group(2)))
    return pairs


async def mark_sent(user: PractitionerView, printed: list[tuple[int, str]], now: datetime) -> int:
    """Mark letters of the user's authority sent, erasing their codes; how many. A letter is
    marked only if it still carries the code that was printed (a new letter made meanwhile
    stays waiting)."""
    if not printed:
        return 0
    lookups = dict(printed)
    children = {
        r["id"]: r["child"]
        for r in await ConsentInvitation.select(ConsentInvitation.id, ConsentInvitation.child)
        .where(ConsentInvitation.id.is_in(list(lookups)) & _unsent(user.local_authority_id))
        .run()
    }
    if not children:
        return 0

    async def unit(tx: Tx) -> int:
        sent: list[dict[str, Any]] = []
        for invitation_id in children:
            sent += await tx.run(
                ConsentInvitation.update(
                    {ConsentInvitation.letter_code: None, ConsentInvitation.letter_sent_at: now}
                )
                .where(
                    (ConsentInvitation.id == invitation_id)
                    & (ConsentInvitation.lookup == lookups[invitation_id])
                    & ConsentInvitation.letter_code.is_not_null()
                )
                .returning(ConsentInvitation.id)
            )
        await audit.append(
            tx,
            [
                Entry(
                    "consent.letters_sent",
                    Actor.of(user),
                    now,
                    child_id=children[r["id"]],
                    child_authority_id=user.local_authority_id,
                    subjects=(f"consent_invitation:{r['id']}",),
                )
                for r in sent
            ],
        )
        return len(sent)

    return await audit.write(unit)


class ReissueError(Exception):
    """No new letter can be made; the message says why, for the authority's team."""


async def reissue(keyring: Keyring, user: PractitionerView, signpost_id: str, now: datetime) -> None:
    """A new consent code and letter for a young person of the user's authority: a lost letter,
    a code locked by wrong tries, a change of mind after answering, or a lost withdrawal code
    (the new code opens the record to decide again, which ends or replaces any consent). The old
    code stops working at once; the new one works until 30 days after the 18th birthday, and
    for at least 30 days from today."""
    rows = (
        await ConsentInvitation.select(ConsentInvitation.id, ConsentInvitation.child)
        .where(
            (ConsentInvitation.child.signpost_id == signpost_id)
            & (ConsentInvitation.child.local_authority == user.local_authority_id)
        )
        .run()
    )
    if not rows:
        raise ReissueError("No young person of your authority with that Signpost ID has been invited yet")
    invitation_id, child_id = rows[0]["id"], rows[0]["child"]
    born_rows = await Child.select(Child.date_of_birth).where(Child.id == child_id).run()
    born = date.fromisoformat(
        keyring.decrypt("child.date_of_birth", child_id, bytes(born_rows[0]["date_of_birth"]))
    )
    expires_on = max(eighteenth_birthday(born), uk_date(now)) + timedelta(days=CODE_GRACE_DAYS)
    code = new_code()
    code_hash = await hash_code(code.code)
    version = keyring.active_version
    sealed = keyring.encrypt("consent_invitation.letter_code", invitation_id, code.code, version)

    async def unit(tx: Tx) -> None:
        await tx.run(
            ConsentInvitation.update(
                {
                    ConsentInvitation.lookup: code.lookup,
                    ConsentInvitation.code_hash: code_hash,
                    ConsentInvitation.letter_code: sealed,
                    ConsentInvitation.letter_sent_at: None,
                    ConsentInvitation.answered_at: None,
                    ConsentInvitation.answer: None,
                    ConsentInvitation.expires_on: expires_on,
                    ConsentInvitation.key_version: version,
                }
            ).where(ConsentInvitation.id == invitation_id)
        )
        await audit.append(
            tx,
            [
                Entry(
                    "consent.reissued",
                    Actor.of(user),
                    now,
                    child_id=child_id,
                    child_authority_id=user.local_authority_id,
                    subjects=(f"consent_invitation:{invitation_id}",),
                )
            ],
        )

    await audit.write(unit)
