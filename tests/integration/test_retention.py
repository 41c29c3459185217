"""The retention engine and the young person's decision, through the services, on SQLite and
PostgreSQL, with the clock moved by hand: invitation at 17 and a half, consent, the 18th
birthday, the end date; no answer; withdrawal before and after 18; 29 February; repeated runs; a
run killed between batches; wrong codes; and that a deleted child leaves no personal value
anywhere in the database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from piccolo.table import Table

from app.audit.tables import AuditEntry
from app.consent import retention
from app.consent import service as consent
from app.consent.codes import CodeKind
from app.consent.retention import Reason
from app.consent.tables import ConsentCodeTry, ConsentInvitation, ConsentReceipt, RetentionRun
from app.crypto.keyring import Keyring
from app.crypto.rotation import ROTATED_COLUMNS
from app.database import ALL_TABLES, AnyEngine
from app.disclosure.tables import DisclosureRequest
from app.identity.service import Role
from app.involvement.tables import Notification
from app.records.codes import RetentionState
from app.records.schemas import ChildRecord
from app.records.service import RecordNotFoundError, create_child, load_child
from app.records.tables import Carer, Child, FormerName, Involvement
from app.subject_access import service as sar_service
from app.subject_access.codes import RequesterKind
from app.subject_access.service import NewRequest
from app.subject_access.tables import SubjectAccessRequest
from tests.factories import child_details, make_authority
from tests.identity_flow import make_person

BORN = date(2009, 5, 20)  # 17 and a half on 20 November 2026, 18 on 20 May 2027
INVITE_MONTHS = 6


def at(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


async def run(keyring: Keyring, day: date, **kwargs: Any) -> retention.Summary:
    return await retention.run(keyring, today=day, now=at(day), invite_months=INVITE_MONTHS, **kwargs)


async def a_child(keyring: Keyring, authority: int, born: date = BORN, **change: Any) -> ChildRecord:
    return await create_child(keyring, replace(child_details(authority, date_of_birth=born), **change))


async def exists(child_id: int) -> bool:
    return bool(await Child.count().where(Child.id == child_id).run())


async def letter_code(keyring: Keyring, child_id: int) -> str:
    row = (await ConsentInvitation.select().where(ConsentInvitation.child == child_id).run())[0]
    return keyring.decrypt("consent_invitation.letter_code", row["id"], bytes(row["letter_code"]))


async def tombstones(child_id: int) -> list[dict[str, Any]]:
    return list(
        await AuditEntry.select(AuditEntry.detail, AuditEntry.actor_kind)
        .where((AuditEntry.child_id == child_id) & (AuditEntry.action == "retention.deleted"))
        .run()
    )


async def test_invited_at_17_and_a_half_consents_kept_past_18_and_deleted_on_the_chosen_date(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    first = await run(keyring, date(2026, 11, 19))
    assert first.full_scan
    assert first.invited == 0
    assert first.deleted_total == 0
    assert await ConsentInvitation.count().run() == 0

    invited = await run(keyring, date(2026, 11, 20))
    assert not invited.full_scan
    assert invited.invited == 1
    again = await run(keyring, date(2026, 11, 20))
    assert again.invited == 0
    assert again.deleted_total == 0
    assert again.scanned == 0  # the day's first run dealt with birthdays and invitations
    assert await ConsentInvitation.count().where(ConsentInvitation.child == child.id).run() == 1
    invitation = (await ConsentInvitation.select().where(ConsentInvitation.child == child.id).run())[0]
    assert invitation["expires_on"] == date(2027, 6, 19)  # 30 days after the 18th birthday
    assert invitation["code_hash"].startswith("$argon2id$")

    code = await letter_code(keyring, child.id)
    opened = await consent.open_with_code(keyring, CodeKind.consent, code, BORN, at(date(2026, 12, 1)))
    assert opened.child_id == child.id
    assert opened.state == RetentionState.delete_at_18
    receipt = await consent.keep(opened, date(2030, 1, 1), at(date(2026, 12, 1)))
    assert len(receipt.withdrawal_code.replace("-", "")) == 24
    with pytest.raises(consent.CodeRefusedError) as used:  # the letter's code is one-time
        await consent.open_with_code(keyring, CodeKind.consent, code, BORN, at(date(2026, 12, 2)))
    assert used.value.used
    assert not used.value.locked

    for day in (date(2027, 5, 20), date(2029, 12, 31)):
        summary = await run(keyring, day)
        assert summary.deleted_total == 0
        assert await exists(child.id)
    kept = await load_child(keyring, child.id)
    assert kept.details.retention_state == RetentionState.kept_with_consent
    assert kept.details.keep_until == date(2030, 1, 1)

    ended = await run(keyring, date(2030, 1, 1))
    assert ended.deleted[Reason.consent_ended] == 1
    assert not await exists(child.id)
    assert await ConsentReceipt.count().run() == 0
    assert await ConsentInvitation.count().run() == 0
    [stone] = await tombstones(child.id)
    assert json.loads(stone["detail"]) == {"on": "20300101", "reason": "consent_ended"}
    assert stone["actor_kind"] == "system"


async def test_no_answer_means_deleted_on_the_18th_birthday_and_not_a_day_before(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    other = await a_child(keyring, authority, born=date(2012, 1, 1))
    await run(keyring, date(2026, 11, 25))
    day_before = await run(keyring, date(2027, 5, 19))
    assert day_before.deleted_total == 0
    assert await exists(child.id)
    birthday = await run(keyring, date(2027, 5, 20))
    assert birthday.deleted[Reason.turned_18] == 1
    assert not await exists(child.id)
    assert await exists(other.id)
    assert [json.loads(s["detail"])["reason"] for s in await tombstones(child.id)] == ["turned_18"]
    repeat = await run(keyring, date(2027, 5, 20))
    assert repeat.deleted_total == 0
    assert repeat.invited == 0


async def test_a_missed_month_is_caught_up_from_the_last_finished_run(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2027, 3, 1))
    # No run from March to July (the service was down): the May birthday is still found.
    late = await run(keyring, date(2027, 7, 15))
    assert not late.full_scan
    assert late.deleted[Reason.turned_18] == 1
    assert not await exists(child.id)


async def test_withdrawal_after_18_deletes_at_the_next_run(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    opened = await consent.open_with_code(
        keyring, CodeKind.consent, await letter_code(keyring, child.id), BORN, at(date(2026, 11, 21))
    )
    receipt = await consent.keep(opened, date(2031, 5, 20), at(date(2026, 11, 21)))
    await run(keyring, date(2027, 5, 20))
    assert await exists(child.id)

    await run(keyring, date(2028, 2, 3))  # the day's first run, before the young person withdraws
    later = at(date(2028, 2, 3))
    by_receipt = await consent.open_with_code(
        keyring, CodeKind.withdrawal, receipt.withdrawal_code, BORN, later
    )
    await consent.withdraw(by_receipt, later)
    stored = (await Child.select(Child.retention_state, Child.keep_until).where(Child.id == child.id).run())[
        0
    ]
    assert stored == {"retention_state": "consent_withdrawn", "keep_until": date(2028, 2, 3)}
    with pytest.raises(consent.CodeRefusedError):  # the receipt's code is spent
        await consent.open_with_code(keyring, CodeKind.withdrawal, receipt.withdrawal_code, BORN, later)
    summary = await run(keyring, date(2028, 2, 3))
    assert summary.deleted[Reason.consent_withdrawn] == 1
    assert not await exists(child.id)


async def test_withdrawal_before_18_returns_to_deletion_on_the_birthday(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    now = at(date(2026, 12, 2))
    opened = await consent.open_with_code(
        keyring, CodeKind.consent, await letter_code(keyring, child.id), BORN, now
    )
    receipt = await consent.keep(opened, date(2029, 1, 1), now)
    by_receipt = await consent.open_with_code(
        keyring, CodeKind.withdrawal, receipt.withdrawal_code, BORN, now
    )
    await consent.shorten(by_receipt, date(2028, 1, 1), now)
    assert (await load_child(keyring, child.id)).details.keep_until == date(2028, 1, 1)
    by_receipt = await consent.open_with_code(
        keyring, CodeKind.withdrawal, receipt.withdrawal_code, BORN, now
    )
    with pytest.raises(consent.DecisionError, match="before 1 January 2028"):
        await consent.shorten(by_receipt, date(2028, 6, 1), now)  # longer is not shorter
    await consent.withdraw(by_receipt, now)
    back = await load_child(keyring, child.id)
    assert back.details.retention_state == RetentionState.delete_at_18
    assert back.details.keep_until is None
    assert (await run(keyring, date(2027, 5, 19))).deleted_total == 0
    assert (await run(keyring, date(2027, 5, 20))).deleted[Reason.turned_18] == 1


async def test_the_chosen_date_is_after_18_and_by_the_25th_birthday(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    now = at(date(2026, 11, 21))
    opened = await consent.open_with_code(
        keyring, CodeKind.consent, await letter_code(keyring, child.id), BORN, now
    )
    for wrong, why in (
        (date(2027, 5, 20), "after 20 May 2027"),
        (date(2034, 5, 21), "on or before your 25th"),
    ):
        with pytest.raises(consent.DecisionError, match=why):
            await consent.keep(opened, wrong, now)
    assert (await load_child(keyring, child.id)).details.retention_state == RetentionState.delete_at_18
    await consent.keep(opened, date(2034, 5, 20), now)  # the 25th birthday itself
    with pytest.raises(consent.DecisionError, match="changed since you opened it"):
        await consent.delete_at_18(opened, now)  # a stale page cannot undo what was decided


async def test_29_february_birthdays_turn_18_on_1_march_in_a_common_year(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    leap = await a_child(keyring, authority, born=date(2008, 2, 29))
    await run(keyring, date(2026, 2, 1))
    assert (await run(keyring, date(2026, 2, 28))).deleted_total == 0
    assert await exists(leap.id)
    assert (await run(keyring, date(2026, 3, 1))).deleted[Reason.turned_18] == 1
    assert not await exists(leap.id)


async def test_a_run_killed_between_batches_leaves_records_whole_or_gone_and_the_next_finishes(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    turning = [await a_child(keyring, authority, born=date(2009, 5, d)) for d in range(1, 13)]
    staying = await a_child(keyring, authority, born=date(2012, 5, 1))
    await run(keyring, date(2027, 4, 1))

    class KilledError(Exception):
        pass

    def kill(summary: retention.Summary) -> None:
        raise KilledError

    with pytest.raises(KilledError):
        await run(keyring, date(2027, 5, 20), batch_size=5, after_batch=kill)
    gone = [c for c in turning if not await exists(c.id)]
    assert 0 < len(gone) < len(turning)
    for child in turning:
        if child in gone:
            assert await Carer.count().where(Carer.child == child.id).run() == 0
            assert len(await tombstones(child.id)) == 1
        else:
            whole = await load_child(keyring, child.id)
            assert whole.details == child.details
            assert await tombstones(child.id) == []
    assert await RetentionRun.count().where(RetentionRun.run_on == date(2027, 5, 20)).run() == 0

    finish = await run(keyring, date(2027, 5, 20), batch_size=5)
    assert finish.deleted[Reason.turned_18] == len(turning) - len(gone)
    assert [c for c in turning if await exists(c.id)] == []
    assert await exists(staying.id)
    assert [len(await tombstones(c.id)) for c in turning] == [1] * len(turning)


async def test_dry_run_reports_and_changes_nothing(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    inviting = await a_child(keyring, authority, born=date(2009, 11, 1))  # invited from 1 May 2027
    await run(keyring, date(2027, 4, 1))
    before = await AuditEntry.count().run()
    invitations = await ConsentInvitation.count().run()
    dry = await run(keyring, date(2027, 5, 20), dry_run=True)
    assert dry.deleted[Reason.turned_18] == 1
    assert dry.invited == 1
    assert await exists(child.id)
    assert await exists(inviting.id)
    assert await AuditEntry.count().run() == before
    assert await ConsentInvitation.count().run() == invitations
    assert await RetentionRun.count().where(RetentionRun.run_on == date(2027, 5, 20)).run() == 0


async def test_rows_without_the_turns_18_index_are_indexed_and_still_found(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 1))
    await Child.update({Child.bidx_turns_18: None}).where(Child.id == child.id).run()  # an older row
    summary = await run(keyring, date(2026, 11, 2))
    assert summary.indexed == 1
    assert (await Child.select(Child.bidx_turns_18).where(Child.id == child.id).run())[0][
        "bidx_turns_18"
    ] is not None
    assert (await run(keyring, date(2027, 5, 20))).deleted_total == 1


async def test_five_wrong_tries_lock_a_code_and_a_made_up_code_is_answered_the_same(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    code = await letter_code(keyring, child.id)
    now = at(date(2026, 11, 21))
    made_up = code[:10] + (
        "0000-0000-0000-0000" if not code.endswith("0000-0000-0000-0000") else "1111-1111-1111-1111"
    )
    nowhere = "ZZZZ-ZZZZ-" + code[10:]  # a lookup no code has
    for wrong in (made_up, nowhere):
        for attempt in range(1, 6):
            with pytest.raises(consent.CodeRefusedError) as refused:
                await consent.open_with_code(keyring, CodeKind.consent, wrong, BORN, now)
            assert refused.value.locked is (attempt == 5)
    # The real code shares the locked lookup: locked too, even with the right answer.
    with pytest.raises(consent.CodeRefusedError) as locked:
        await consent.open_with_code(keyring, CodeKind.consent, code, BORN, now)
    assert locked.value.locked
    tries = {r["lookup"]: r["failures"] for r in await ConsentCodeTry.select().run()}
    assert tries == {f"i:{code[:9].replace('-', '')}": 5, "i:ZZZZZZZZ": 5}


async def test_the_right_code_with_the_wrong_date_of_birth_is_a_wrong_try(
    engine: AnyEngine, keyring: Keyring
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    code = await letter_code(keyring, child.id)
    now = at(date(2026, 11, 21))
    with pytest.raises(consent.CodeRefusedError) as refused:
        await consent.open_with_code(keyring, CodeKind.consent, code, date(2009, 5, 21), now)
    assert not refused.value.locked
    typed = code.lower().replace("-", " ")  # case and spacing do not matter
    assert (await consent.open_with_code(keyring, CodeKind.consent, typed, BORN, now)).child_id == child.id
    assert (await ConsentCodeTry.select(ConsentCodeTry.failures).run())[0]["failures"] == 1
    with pytest.raises(consent.CodeRefusedError) as expired:
        await consent.open_with_code(keyring, CodeKind.consent, code, BORN, at(date(2027, 6, 20)))
    assert expired.value.expired


def _plain_values(keyring: Keyring, table: type[Table], row: dict[str, Any]) -> list[str]:
    """Every value of ``row`` as text, encrypted columns decrypted."""
    encrypted = ROTATED_COLUMNS.get(table, ())
    values = []
    for name, value in row.items():
        if value is None:
            continue
        if name in encrypted:
            values.append(keyring.decrypt(f"{table._meta.tablename}.{name}", row["id"], bytes(value)))
        else:
            values.append(str(value))
    return values


async def test_a_deleted_child_leaves_no_personal_value_anywhere(
    engine: AnyEngine, keyring: Keyring, data_dir: Path
) -> None:
    authority = await make_authority()
    child = await a_child(keyring, authority)
    signpost_id = child.signpost_id
    await run(keyring, date(2026, 11, 20))
    now = at(date(2026, 11, 21))
    receipt_opened = await consent.open_with_code(
        keyring, CodeKind.consent, await letter_code(keyring, child.id), BORN, now
    )
    receipt = await consent.keep(receipt_opened, date(2028, 1, 1), now)
    request = await sar_service.submit(
        keyring,
        NewRequest(
            authority_id=authority,
            requester_kind=RequesterKind.young_person,
            requester_name="Zoë O'Brien-Smith",
            requester_address=child.details.address,  # type: ignore[arg-type]
            child_given_name="Zoë",
            child_family_name="O'Brien-Smith",
            child_date_of_birth=BORN,
            child_postcode="NB12 3XY",
        ),
        now,
    )
    await (
        SubjectAccessRequest.update({SubjectAccessRequest.child_id: child.id})
        .where(SubjectAccessRequest.reference == request.reference)
        .run()
    )
    officer = await make_person(keyring, now, email="pc@northshire-police.example.org", role=Role.police)
    disclosure_id = 424242

    def seal(column: str, text: str) -> bytes:
        return keyring.encrypt(f"disclosure_request.{column}", disclosure_id, text)

    await DisclosureRequest.insert(
        DisclosureRequest(
            id=disclosure_id,
            requester=officer.id,
            force=(await _organisation_of(officer.id)),
            local_authority=authority,
            child_id=child.id,
            crime_reference=seal("crime_reference", "NS/1/26"),
            offence="violence",
            lawful_basis="crime_exemption",
            urgency="routine",
            justification=seal("justification", "Zoë O'Brien-Smith saw an assault; we need to speak to her."),
            status="pending",
            created_at=now,
            key_version=keyring.active_version,
        )
    ).run()
    await Notification.insert(
        Notification(id=777, practitioner_id=officer.id, child_id=child.id, created_at=now)
    ).run()

    await run(keyring, date(2027, 5, 20))
    assert await exists(child.id)  # kept with consent
    assert (await run(keyring, date(2028, 1, 1))).deleted[Reason.consent_ended] == 1

    personal = [
        "Zoë",
        "O'Brien",
        "Quillfeather",
        "Pemberton",
        "NB12 3XY",
        "07700 900 417",
        "2009-05-20",
        "Flat 2",
        "assault",
        "NS/1/26",
        signpost_id,
        receipt.receipt_id,
    ]
    for table in ALL_TABLES:
        for row in await table.select().run():
            for value in _plain_values(keyring, table, row):
                assert not [p for p in personal if p in value], (table._meta.tablename, value)
    for table in (FormerName, Carer, Involvement, ConsentInvitation, ConsentReceipt, SubjectAccessRequest):
        assert await table.count().run() == 0, table._meta.tablename
    assert await Notification.count().where(Notification.child_id == child.id).run() == 0
    kept = (
        await DisclosureRequest.select(DisclosureRequest.status)
        .where(DisclosureRequest.id == disclosure_id)
        .run()
    )[0]
    assert kept["status"] == "pending"  # the request's codes and dates stay for the public counts
    with pytest.raises(RecordNotFoundError):
        await load_child(keyring, child.id)
    assert (await run(keyring, date(2028, 1, 1))).deleted_total == 0


async def _organisation_of(practitioner_id: int) -> int:
    from app.identity.tables import Practitioner

    rows = (
        await Practitioner.select(Practitioner.organisation).where(Practitioner.id == practitioner_id).run()
    )
    return int(rows[0]["organisation"])


def test_uk_date_decides_the_birthday_not_utc() -> None:
    from app.consent.dates import birthday, eighteenth_birthday, uk_date

    # 23:30 UTC on 19 May is 00:30 on 20 May in British Summer Time: the birthday has come.
    assert uk_date(datetime(2027, 5, 19, 23, 30, tzinfo=UTC)) == date(2027, 5, 20)
    assert uk_date(datetime(2027, 1, 19, 23, 30, tzinfo=UTC)) == date(2027, 1, 19)  # GMT
    assert eighteenth_birthday(date(2008, 2, 29)) == date(2026, 3, 1)
    assert eighteenth_birthday(date(2010, 2, 28)) == date(2028, 2, 28)
    assert birthday(date(2008, 2, 29), 20) == date(2028, 2, 29)  # a leap year has the day


async def test_a_young_person_who_consents_while_a_run_is_deciding_keeps_their_record(
    engine: AnyEngine, keyring: Keyring
) -> None:
    """The delete checks again that the record is due: the run read it before the young person
    consented on their birthday, and deletes nothing."""
    authority = await make_authority()
    child = await a_child(keyring, authority)
    await run(keyring, date(2026, 11, 20))
    read = retention._Row(child.id, authority, BORN, RetentionState.delete_at_18, None, indexed=True)
    now = at(date(2027, 5, 20))
    opened = await consent.open_with_code(
        keyring, CodeKind.consent, await letter_code(keyring, child.id), BORN, now
    )
    await consent.keep(opened, date(2028, 1, 1), now)  # on the birthday itself, before the delete
    gone, _ = await retention._commit(keyring, [(read, Reason.turned_18)], [], [], date(2027, 5, 20), now)
    assert gone == set()
    assert await exists(child.id)
    assert await tombstones(child.id) == []


async def test_sunday_sweeps_every_record_and_catches_one_the_months_would_miss(
    engine: AnyEngine, keyring: Keyring
) -> None:
    from app.records.service import turns_18_index

    authority = await make_authority()
    await run(keyring, date(2026, 11, 23))  # a Monday
    # Born in a month whose index value is none of those a weekday run reads (this month's and
    # the invitation months' ahead, allowing up to a year): the keys are new each test, and one
    # value in 64 would otherwise put the record in a bucket the weekday run reads.
    read = {turns_18_index(keyring, date(2008 + (10 + k) // 12, (10 + k) % 12 + 1, 15)) for k in range(14)}
    born = next(
        date(2007, m, 1) for m in range(1, 13) if turns_18_index(keyring, date(2007, m, 1)) not in read
    )
    adult = await a_child(keyring, authority, born=born)  # written already 18
    weekday = await run(keyring, date(2026, 11, 24))
    assert not weekday.full_scan
    assert weekday.deleted_total == 0
    assert await exists(adult.id)
    sunday = await run(keyring, date(2026, 11, 29))
    assert sunday.full_scan
    assert sunday.deleted[Reason.turned_18] == 1
    assert not await exists(adult.id)
    assert not (await run(keyring, date(2026, 11, 29))).full_scan  # once a Sunday


async def test_old_tries_at_codes_are_forgotten(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    await a_child(keyring, authority)
    now = at(date(2026, 11, 20))
    for _ in range(2):
        with pytest.raises(consent.CodeRefusedError):
            await consent.open_with_code(
                keyring, CodeKind.consent, "ZZZZ-ZZZZ-" + "0000-" * 3 + "0000", BORN, now
            )
    assert await ConsentCodeTry.count().run() == 1
    await run(keyring, date(2026, 12, 19))
    assert await ConsentCodeTry.count().run() == 1  # 29 days: kept
    await run(keyring, date(2026, 12, 21))
    assert await ConsentCodeTry.count().run() == 0
