"""``signpost keys rotate``: everything moves to the new key, resumably, and the old key goes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from piccolo.columns import Column

from app.crypto import rotation
from app.crypto.keyring import Keyring, key_versions
from app.database import AnyEngine
from app.identity.service import find_by_email, load_practitioner
from app.records.schemas import PersonName
from app.records.service import TURNS_18, create_child, find_by_name_and_birth_date, load_child
from app.records.tables import ENCRYPTED_COLUMNS, Carer, Child, FormerName
from tests.factories import child_details, make_authority
from tests.identity_flow import make_person


@pytest.fixture(autouse=True)
def no_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rotation, "GRACE_SECONDS", 0)


async def make_children(keyring: Keyring, count: int) -> list[Any]:
    authority = await make_authority()
    former = (PersonName(given_name="Zoe", family_name="Kowalski"),)
    return [
        await create_child(
            keyring, child_details(authority, date_of_birth=date(2014, 1, 1 + i), former_names=former)
        )
        for i in range(count)
    ]


async def test_rotation_moves_every_row_and_retires_the_old_key(engine: AnyEngine, keyring: Keyring) -> None:
    children = await make_children(keyring, 5)
    before = [await load_child(keyring, c.id) for c in children]
    old_rows = await Child.select(Child.id, Child.given_name, Child.bidx_name_dob).order_by(Child.id).run()

    result = await rotation.rotate(keyring, batch_size=2)

    assert result.version == 2
    assert result.retired == [1]
    assert key_versions(keyring.keys_dir) == [2]
    for table in ENCRYPTED_COLUMNS:
        versions = {r["key_version"] for r in await table.select(table.key_version).run()}  # type: ignore[attr-defined]
        assert versions == {2}, table._meta.tablename
    blobs = await Child.select(Child.given_name).run() + await Carer.select(Carer.name).run()
    assert all(Keyring.version_of(bytes(next(iter(b.values())))) == 2 for b in blobs)
    new_rows = await Child.select(Child.id, Child.given_name, Child.bidx_name_dob).order_by(Child.id).run()
    assert [r["given_name"] for r in new_rows] != [r["given_name"] for r in old_rows]
    fresh = Keyring(keyring.keys_dir)  # a process that only has the new key
    assert [await load_child(fresh, c.id) for c in children] == before
    found = await find_by_name_and_birth_date(fresh, "Kowalski", date(2014, 1, 3))
    assert [r.id for r in found] == [children[2].id]


async def test_an_interrupted_rotation_resumes(
    engine: AnyEngine, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    children = await make_children(keyring, 6)
    real = rotation._rotate_table
    calls = {"n": 0}

    async def crash_on_former_names(keyring: Keyring, table: Any, *args: Any) -> int:
        if table is FormerName:
            calls["n"] += 1
            raise KeyboardInterrupt("killed")
        return await real(keyring, table, *args)

    monkeypatch.setattr(rotation, "_rotate_table", crash_on_former_names)
    with pytest.raises(KeyboardInterrupt):
        await rotation.rotate(keyring, batch_size=4)
    assert key_versions(keyring.keys_dir) == [1, 2]  # nothing retired while rows still need key 1
    mixed = {r["key_version"] for r in await FormerName.select(FormerName.key_version).run()}
    assert mixed == {1}
    monkeypatch.setattr(rotation, "_rotate_table", real)

    result = await rotation.rotate(keyring, batch_size=4)
    assert result.version == 2  # finished the interrupted rotation rather than starting another
    assert key_versions(keyring.keys_dir) == [2]
    fresh = Keyring(keyring.keys_dir)
    for child in children:
        assert (await load_child(fresh, child.id)).details == child.details


async def test_a_concurrent_edit_is_not_overwritten(engine: AnyEngine, keyring: Keyring) -> None:
    (child,) = await make_children(keyring, 1)
    read_by_rotation = (await Child.select().where(Child.id == child.id).run())[0]
    edited = keyring.encrypt("child.given_name", child.id, "Edited", 1)
    await Child.update({Child.given_name: edited}).where(Child.id == child.id).run()
    stale: dict[Column | str, Any] = {
        "given_name": keyring.encrypt("child.given_name", child.id, "Stale", 1),
        "key_version": 2,
    }
    guard = rotation._unchanged(Child, read_by_rotation, ENCRYPTED_COLUMNS[Child])
    await Child.update(stale).where(guard).run()
    assert (await load_child(keyring, child.id)).details.given_name == "Edited"
    untouched = (await Child.select().where(Child.id == child.id).run())[0]
    await Child.update(stale).where(rotation._unchanged(Child, untouched, ENCRYPTED_COLUMNS[Child])).run()
    assert (await load_child(keyring, child.id)).details.given_name == "Stale"  # the guard does match


async def test_practitioners_are_rotated_and_still_found_by_email(
    engine: AnyEngine, keyring: Keyring
) -> None:
    from datetime import UTC, datetime

    person = await make_person(keyring, datetime.now(UTC))
    await rotation.rotate(keyring, batch_size=10)
    fresh = Keyring(keyring.keys_dir)
    assert fresh.versions == [2]
    assert await find_by_email(fresh, person.email.upper()) == person.id
    loaded = await load_practitioner(fresh, person.id)
    assert loaded is not None
    assert loaded.email == person.email


async def test_subject_access_requests_are_rotated_and_still_read(
    engine: AnyEngine, keyring: Keyring
) -> None:
    from datetime import UTC, datetime

    from app.records.schemas import Address
    from app.subject_access import service as subject_access
    from app.subject_access.codes import RequesterKind
    from app.subject_access.tables import SubjectAccessRequest

    authority = await make_authority()
    asked = subject_access.NewRequest(
        authority_id=authority,
        requester_kind=RequesterKind.parent_carer,
        requester_name="Maeve Quillfeather",
        requester_address=Address(lines=("17 Quillfeather Lane",), town="Yarrow", postcode="NB12 3XY"),
        child_given_name="Zoë",
        child_family_name="O'Brien-Smith",
        child_date_of_birth=date(2014, 2, 28),
        child_postcode=None,
    )
    await subject_access.submit(keyring, asked, datetime.now(UTC))
    [row] = await SubjectAccessRequest.select(SubjectAccessRequest.id).run()
    await rotation.rotate(keyring, batch_size=10)
    fresh = Keyring(keyring.keys_dir)
    [stored] = await SubjectAccessRequest.select().run()
    assert stored["key_version"] == 2
    assert Keyring.version_of(bytes(stored["requester_name"])) == 2
    loaded = await subject_access.load(fresh, row["id"], authority)
    assert loaded is not None
    assert (loaded.requester_name, loaded.child_given_name, loaded.child_postcode) == (
        "Maeve Quillfeather",
        "Zoë",
        None,
    )
    assert loaded.requester_address == asked.requester_address


async def test_police_disclosure_requests_are_rotated_and_still_read(
    engine: AnyEngine, keyring: Keyring
) -> None:
    from datetime import UTC, datetime

    from app.disclosure import service as disclosure
    from app.disclosure.codes import LawfulBasis, Offence, Urgency
    from app.disclosure.tables import DisclosureRequest
    from app.identity.service import Role, actor_for
    from app.records.service import create_child
    from app.search.quotas import Quota
    from app.search.service import Criteria
    from tests.factories import child_details
    from tests.identity_flow import make_person

    now = datetime.now(UTC)
    officer = await make_person(keyring, now, email="pc@example.org", role=Role.police, organisation="Police")
    actor = await actor_for(officer.id)
    assert actor is not None
    child = await create_child(keyring, child_details(officer.authority_id))
    case = disclosure.Case("NS/1/26", Offence.drugs, LawfulBasis.court_order, Urgency.routine, "j" * 60)
    request_id = await disclosure.draft(
        keyring,
        actor,
        Criteria(signpost_id=child.signpost_id),
        case,
        now,
        Quota("disclosure", 10, hourly=False),
    )
    await rotation.rotate(keyring, batch_size=10)
    [stored] = await DisclosureRequest.select().run()
    assert stored["key_version"] == 2
    assert Keyring.version_of(bytes(stored["justification"])) == 2
    loaded = await disclosure.load(Keyring(keyring.keys_dir), request_id)
    assert loaded is not None
    assert (loaded.crime_reference, loaded.justification, loaded.decision_note) == ("NS/1/26", "j" * 60, None)


async def test_consent_letters_and_the_turns_18_index_are_rotated(
    engine: AnyEngine, keyring: Keyring
) -> None:
    from datetime import UTC, datetime

    from app.consent import retention
    from app.consent import service as consent
    from app.consent.codes import CodeKind
    from app.consent.tables import ConsentInvitation

    authority = await make_authority()
    born = date(2009, 5, 20)
    child = await create_child(keyring, child_details(authority, date_of_birth=born))
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    await retention.run(keyring, today=now.date(), now=now, invite_months=6)
    [invitation] = await ConsentInvitation.select().run()
    code = keyring.decrypt(
        "consent_invitation.letter_code", invitation["id"], bytes(invitation["letter_code"])
    )

    await rotation.rotate(keyring, batch_size=10)

    fresh = Keyring(keyring.keys_dir)  # a process that only has the new key
    [moved] = await ConsentInvitation.select().run()
    assert moved["key_version"] == 2
    assert fresh.decrypt("consent_invitation.letter_code", moved["id"], bytes(moved["letter_code"])) == code
    new_index = (await Child.select(Child.bidx_turns_18).run())[0]["bidx_turns_18"]
    assert new_index == fresh.blind_index(TURNS_18, "2027-05")
    opened = await consent.open_with_code(fresh, CodeKind.consent, code, born, now)
    assert opened.child_id == child.id
    # The engine finds the birthday under the new key.
    summary = await retention.run(
        fresh, today=date(2027, 5, 20), now=datetime(2027, 5, 20, 9, tzinfo=UTC), invite_months=6
    )
    assert summary.deleted_total == 1
