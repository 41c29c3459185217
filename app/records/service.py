"""Writing and reading child records through the encrypted store.

The ``*_row`` functions are the one place where plain values become stored columns (ciphertexts
bound to their row, and blind indexes); the ORM writes below and the bulk seeder both use them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec

from app.consent.dates import eighteenth_birthday, month_key
from app.crypto.keyring import BlindIndex, Keyring
from app.database import Tx, run, write_transaction
from app.records.codes import ConsentBasis, Gender, Relationship, RetentionState, ServiceType
from app.records.ids import new_signpost_id, row_ids
from app.records.normalise import given_dob_key, name_dob_key, normalise_name
from app.records.schemas import (
    Address,
    CarerDetails,
    ChildDetails,
    ChildRecord,
    InvolvementDetails,
    PersonName,
)
from app.records.tables import Carer, Child, FormerName, Involvement

#: Blind indexes and the bits kept: 20 bits leave about 11 candidates per value at 12 million
#: records, inside CipherSweet's budget (2 <= candidates < sqrt(records)); docs/encryption.md.
NAME_DOB = BlindIndex("name_dob", 20)
GIVEN_DOB = BlindIndex("given_dob", 20)
#: The month a child turns 18 (``YYYY-MM``), kept to 6 bits on purpose: each of the 64 values
#: mixes three or four birth months, so the column groups children only coarsely. The
#: retention engine decrypts the dates of birth of the buckets of the months it needs (about
#: 190,000 a bucket at 12 million, seven or eight buckets a run); docs/consent.md.
TURNS_18 = BlindIndex("turns_18", 6)


def turns_18_index(keyring: Keyring, born: date, version: int | None = None) -> int:
    return keyring.blind_index(TURNS_18, month_key(eighteenth_birthday(born)), version)


class RecordNotFoundError(Exception):
    pass


def encode_address(address: Address | None) -> str | None:
    return None if address is None else msgspec.json.encode(address).decode("utf-8")


def decode_address(text: str | None) -> Address | None:
    return None if text is None else msgspec.json.decode(text, type=Address)


def child_row(
    keyring: Keyring, row_id: int, signpost_id: str, child: ChildDetails, now: datetime
) -> dict[str, Any]:
    version = keyring.active_version
    address = encode_address(child.address)

    def seal(column: str, value: str | None) -> bytes | None:
        return None if value is None else keyring.encrypt(f"child.{column}", row_id, value, version)

    return {
        "id": row_id,
        "signpost_id": signpost_id,
        "local_authority": child.local_authority_id,
        "given_name": seal("given_name", child.given_name),
        "family_name": seal("family_name", child.family_name),
        "date_of_birth": seal("date_of_birth", child.date_of_birth.isoformat()),
        "gender": seal("gender", child.gender.value),
        "address": seal("address", address),
        "bidx_name_dob": keyring.blind_index(
            NAME_DOB, name_dob_key(child.family_name, child.date_of_birth), version
        ),
        "bidx_given_dob": keyring.blind_index(
            GIVEN_DOB, given_dob_key(child.given_name, child.date_of_birth), version
        ),
        "bidx_turns_18": turns_18_index(keyring, child.date_of_birth, version),
        "education_setting": child.education_setting_id,
        "education_start_date": child.education_start_date,
        "gp_practice": child.gp_practice_id,
        "shielded": child.shielded,
        "retention_state": child.retention_state.value,
        "keep_until": child.keep_until,
        "source": child.source,
        "key_version": version,
        "created_at": now,
        "updated_at": now,
        "moved_at": None,
    }


def former_name_row(
    keyring: Keyring, row_id: int, child_id: int, date_of_birth: date, name: PersonName
) -> dict[str, Any]:
    version = keyring.active_version
    return {
        "id": row_id,
        "child": child_id,
        "given_name": keyring.encrypt("former_name.given_name", row_id, name.given_name, version),
        "family_name": keyring.encrypt("former_name.family_name", row_id, name.family_name, version),
        "bidx_name_dob": keyring.blind_index(
            NAME_DOB, name_dob_key(name.family_name, date_of_birth), version
        ),
        "key_version": version,
    }


def carer_row(keyring: Keyring, row_id: int, child_id: int, carer: CarerDetails) -> dict[str, Any]:
    version = keyring.active_version
    address = encode_address(carer.address)
    return {
        "id": row_id,
        "child": child_id,
        "name": keyring.encrypt("carer.name", row_id, carer.name, version),
        "relationship": carer.relationship.value,
        "telephone": None
        if carer.telephone is None
        else keyring.encrypt("carer.telephone", row_id, carer.telephone, version),
        "address": None if address is None else keyring.encrypt("carer.address", row_id, address, version),
        "key_version": version,
    }


def involvement_row(
    keyring: Keyring, row_id: int, child_id: int, inv: InvolvementDetails, recorded_by: int | None = None
) -> dict[str, Any]:
    """The row for an involvement; ``recorded_by`` is the Signpost user, or None from a feed."""
    version = keyring.active_version
    return {
        "id": row_id,
        "child": child_id,
        "service_name": inv.service_name,
        "service_type": inv.service_type.value,
        "practitioner_name": keyring.encrypt(
            "involvement.practitioner_name", row_id, inv.practitioner_name, version
        ),
        "role": inv.role,
        "telephone": keyring.encrypt("involvement.telephone", row_id, inv.telephone, version),
        "email": keyring.encrypt("involvement.email", row_id, inv.email, version),
        "start_date": inv.start_date,
        "end_date": inv.end_date,
        "lead_professional": inv.lead_professional,
        "assessment_undertaken": inv.assessment_undertaken,
        "consent_basis": None if inv.consent_basis is None else inv.consent_basis.value,
        "recorded_by": recorded_by,
        "key_version": version,
    }


async def create_child(keyring: Keyring, child: ChildDetails) -> ChildRecord:
    """Store a validated child with everything attached to it, in one transaction."""
    now = datetime.now(UTC)
    child_id = row_ids.next()
    signpost_id = new_signpost_id()
    async with write_transaction(Child._meta.db):
        await Child.insert(Child(**child_row(keyring, child_id, signpost_id, child, now))).run()
        for name in child.former_names:
            row = former_name_row(keyring, row_ids.next(), child_id, child.date_of_birth, name)
            await FormerName.insert(FormerName(**row)).run()
        for carer in child.carers:
            await Carer.insert(Carer(**carer_row(keyring, row_ids.next(), child_id, carer))).run()
        for inv in child.involvements:
            row = involvement_row(keyring, row_ids.next(), child_id, inv)
            await Involvement.insert(Involvement(**row)).run()
    return ChildRecord(id=child_id, signpost_id=signpost_id, details=child)


# Every record view reads these: fixed statements, not ORM queries built each time.
_CHILD = 'SELECT * FROM "child" WHERE "id" = {}'
_FORMER_NAMES = 'SELECT * FROM "former_name" WHERE "child" = {} ORDER BY "id"'
_CARERS = 'SELECT * FROM "carer" WHERE "child" = {} ORDER BY "id"'
_INVOLVEMENTS = 'SELECT * FROM "involvement" WHERE "child" = {} ORDER BY "id"'


async def load_child(keyring: Keyring, child_id: int, tx: Tx | None = None) -> ChildRecord:
    """Decrypt one child and everything attached to it (inside the write unit ``tx`` if given)."""
    rows = await run(tx, Child.raw(_CHILD, child_id))
    if not rows:
        raise RecordNotFoundError(child_id)
    row = rows[0]

    def plain(table: str, column: str, data: dict[str, Any]) -> str | None:
        blob = data[column]
        return None if blob is None else keyring.decrypt(f"{table}.{column}", data["id"], bytes(blob))

    former = await run(tx, FormerName.raw(_FORMER_NAMES, child_id))
    carers = await run(tx, Carer.raw(_CARERS, child_id))
    involvements = await run(tx, Involvement.raw(_INVOLVEMENTS, child_id))
    details = ChildDetails(
        given_name=plain("child", "given_name", row) or "",
        family_name=plain("child", "family_name", row) or "",
        date_of_birth=date.fromisoformat(plain("child", "date_of_birth", row) or ""),
        gender=Gender(plain("child", "gender", row) or Gender.not_specified),
        address=decode_address(plain("child", "address", row)),
        local_authority_id=row["local_authority"],
        source=row["source"],
        former_names=tuple(
            PersonName(
                given_name=plain("former_name", "given_name", f) or "",
                family_name=plain("former_name", "family_name", f) or "",
            )
            for f in former
        ),
        carers=tuple(
            CarerDetails(
                name=plain("carer", "name", c) or "",
                relationship=Relationship(c["relationship"]),
                telephone=plain("carer", "telephone", c),
                address=decode_address(plain("carer", "address", c)),
            )
            for c in carers
        ),
        involvements=tuple(
            InvolvementDetails(
                service_name=i["service_name"],
                service_type=ServiceType(i["service_type"]),
                practitioner_name=plain("involvement", "practitioner_name", i) or "",
                role=i["role"],
                telephone=plain("involvement", "telephone", i) or "",
                email=plain("involvement", "email", i) or "",
                start_date=i["start_date"],
                end_date=i["end_date"],
                lead_professional=bool(i["lead_professional"]),
                assessment_undertaken=bool(i["assessment_undertaken"]),
                consent_basis=None if i["consent_basis"] is None else ConsentBasis(i["consent_basis"]),
            )
            for i in involvements
        ),
        education_setting_id=row["education_setting"],
        education_start_date=row["education_start_date"],
        gp_practice_id=row["gp_practice"],
        shielded=bool(row["shielded"]),
        retention_state=RetentionState(row["retention_state"]),
        keep_until=row["keep_until"],
    )
    return ChildRecord(
        id=row["id"],
        signpost_id=row["signpost_id"],
        details=details,
        involvement_ids=tuple(i["id"] for i in involvements),
        involvement_recorders=tuple(i["recorded_by"] for i in involvements),
    )


async def find_by_name_and_birth_date(
    keyring: Keyring, family_name: str, date_of_birth: date
) -> list[ChildRecord]:
    """Children whose current or former family name and date of birth match exactly.

    The blind index narrows 12 million rows to a handful of candidates; each candidate is
    decrypted and compared, so a truncated-index collision never becomes a result.
    """
    values = keyring.blind_index_candidates(NAME_DOB, name_dob_key(family_name, date_of_birth))
    current = await Child.select(Child.id).where(Child.bidx_name_dob.is_in(values)).run()
    former = await FormerName.select(FormerName.child).where(FormerName.bidx_name_dob.is_in(values)).run()
    ids = sorted({r["id"] for r in current} | {r["child"] for r in former})
    wanted = normalise_name(family_name)
    matches = []
    for child_id in ids:
        record = await load_child(keyring, child_id)
        names = [record.details.family_name, *(f.family_name for f in record.details.former_names)]
        if record.details.date_of_birth == date_of_birth and any(normalise_name(n) == wanted for n in names):
            matches.append(record)
    return matches
