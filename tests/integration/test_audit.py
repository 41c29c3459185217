"""The audit trail on a real database (SQLite and PostgreSQL): same-transaction writes, one
writer at a time, append-only tables, verification after tampering, checkpoints, the citizen
view and the alerts that patterns of use raise."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from piccolo.engine.postgres import PostgresEngine

from app.audit import alerts, background, checkpoints, service
from app.audit.service import Actor, AuditUnavailableError
from app.audit.tables import Alert, AuditEntry, AuditWithholding
from app.audit.verify import verify_database
from app.database import AnyEngine, write_transaction, write_unit
from app.records.ids import row_ids
from app.records.tables import LocalAuthority
from app.search import quotas
from app.search.tables import UsageCounter
from app.settings import Settings
from tests.factories import make_authority

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ALICE = Actor("practitioner", 11, 21, 31, "practitioner")


async def raw(engine: AnyEngine, *statements: str) -> None:
    """Run SQL as someone with direct database access (an attacker, or a test's fault)."""
    for statement in statements:
        await engine.run_ddl(statement)


async def refuse_audit_inserts(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        await raw(
            engine,
            "CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION refuse_insert()",
        )
    else:
        await raw(
            engine,
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        )


async def allow_audit_inserts(engine: AnyEngine) -> None:
    if isinstance(engine, PostgresEngine):
        await raw(engine, "DROP TRIGGER refuse_insert ON audit_entry", "DROP FUNCTION refuse_insert()")
    else:
        await raw(engine, "DROP TRIGGER refuse_insert")


async def drop_append_only_triggers(engine: AnyEngine) -> None:
    """What an attacker with the database owner's rights would do first."""
    if isinstance(engine, PostgresEngine):
        await raw(engine, "ALTER TABLE audit_entry DISABLE TRIGGER USER")
    else:
        await raw(engine, "DROP TRIGGER audit_entry_no_update", "DROP TRIGGER audit_entry_no_delete")


async def write(count: int, actor: Actor = ALICE, start: datetime = T0) -> list[int]:
    return [
        await service.record(
            "record.view", actor, at=start + timedelta(seconds=n), child_id=1000 + n, reason="assessment"
        )
        for n in range(count)
    ]


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


async def verify(settings: Settings, key: Ed25519PrivateKey) -> Any:
    return await verify_database(settings.checkpoint_dir, key.public_key(), settings.audit_log_name)


async def test_rows_chain_from_one_without_gaps(
    engine: AnyEngine, settings: Settings, signing_key: Any
) -> None:
    assert await write(5) == [1, 2, 3, 4, 5]
    rows = await AuditEntry.select().order_by(AuditEntry.seq).run()
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(rows[n]["prev_hash"] == rows[n - 1]["entry_hash"] for n in range(1, 5))
    report = await verify(settings, signing_key)
    assert (report.problem, report.rows, report.head_hash) == (None, 5, rows[-1]["entry_hash"])


async def test_the_audit_row_commits_with_the_action_or_not_at_all(engine: AnyEngine) -> None:
    authority_id = await make_authority()
    await refuse_audit_inserts(engine)

    async def rename_with_audit() -> None:
        async with write_transaction(engine):
            await (
                LocalAuthority.update({LocalAuthority.name: "Renamed"})
                .where(LocalAuthority.id == authority_id)
                .run()
            )
            await service.record("practitioner.created", ALICE, at=T0, subjects=[f"authority:{authority_id}"])

    with pytest.raises(AuditUnavailableError):
        await rename_with_audit()
    names = await LocalAuthority.select(LocalAuthority.name).run()
    assert names == [{"name": "Northshire Council"}]  # the action was rolled back with its audit
    await allow_audit_inserts(engine)
    await rename_with_audit()
    assert await LocalAuthority.select(LocalAuthority.name).run() == [{"name": "Renamed"}]
    assert await AuditEntry.count().run() == 1


async def test_eight_writers_at_once_leave_a_valid_gapless_chain(
    engine: AnyEngine, settings: Settings, signing_key: Any
) -> None:
    per_writer = 25

    async def writer(n: int) -> list[int]:
        actor = Actor("practitioner", 100 + n, 1, 1, "practitioner")
        return await write(per_writer, actor, T0 + timedelta(minutes=n))

    results = await asyncio.gather(*(writer(n) for n in range(8)))
    sequences = sorted(seq for batch in results for seq in batch)
    assert sequences == list(range(1, 8 * per_writer + 1))
    report = await verify(settings, signing_key)
    assert report.problem is None
    assert report.rows == 8 * per_writer


async def test_the_table_refuses_updates_and_deletes(engine: AnyEngine) -> None:
    await write(2)
    for statement in ("UPDATE audit_entry SET reason = NULL", "DELETE FROM audit_entry WHERE seq = 1"):
        with pytest.raises(Exception) as caught:  # noqa: PT011 -- either driver's error; the text is checked
            await raw(engine, statement)
        assert "append-only" in str(caught.value)
    if isinstance(engine, PostgresEngine):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await raw(engine, "TRUNCATE audit_entry")
    assert await AuditEntry.count().run() == 2


@pytest.mark.parametrize(
    ("tampering", "row", "kind"),
    [
        ("UPDATE audit_entry SET reason = 'safeguarding_concern' WHERE seq = 4", 4, "changed"),
        ("UPDATE audit_entry SET at = at + interval '1 second' WHERE seq = 2", 2, "changed"),
        ("DELETE FROM audit_entry WHERE seq = 3", 3, "missing"),
        ("UPDATE audit_entry SET seq = seq + 100 WHERE seq = 5", 5, "missing"),
    ],
)
async def test_verify_names_the_tampered_row(
    engine: AnyEngine, settings: Settings, signing_key: Any, tampering: str, row: int, kind: str
) -> None:
    await write(8)
    await drop_append_only_triggers(engine)
    if not isinstance(engine, PostgresEngine):
        tampering = tampering.replace("at + interval '1 second'", "'2026-11-24 09:00:01.000001+00:00'")
    await raw(engine, tampering)
    report = await verify(settings, signing_key)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (row, kind)


async def test_checkpoints_are_written_when_due_and_catch_truncation(
    engine: AnyEngine, settings: Settings, signing_key: Any
) -> None:
    settings = _with(settings, checkpoint_rows=5, checkpoint_minutes=5)
    assert await background.checkpoint(settings, signing_key, T0) is None  # nothing to sign yet
    await write(3)
    first = await background.checkpoint(settings, signing_key, T0)
    assert first is not None
    assert first.size == 3
    await write(2)
    assert (
        await background.checkpoint(settings, signing_key, T0 + timedelta(minutes=1)) is None
    )  # 2 rows, 1 min
    late = await background.checkpoint(settings, signing_key, T0 + timedelta(minutes=5))
    assert late is not None
    assert (late.size, late.previous) == (5, 3)
    await write(5)
    by_rows = await background.checkpoint(settings, signing_key, T0 + timedelta(minutes=6))
    assert by_rows is not None
    assert (by_rows.size, by_rows.previous) == (10, 5)
    assert [size for size, _ in checkpoints.files(settings.checkpoint_dir)] == [3, 5, 10]
    assert (await verify(settings, signing_key)).problem is None

    await drop_append_only_triggers(engine)
    await raw(engine, "DELETE FROM audit_entry WHERE seq > 7")
    report = await verify(settings, signing_key)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (8, "truncated")


def _with(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


async def test_the_running_service_signs_a_final_checkpoint_at_shutdown(
    app_factory: Any, settings: Settings, signing_key: Any
) -> None:
    from litestar.testing import AsyncTestClient

    app = app_factory(audit_key=signing_key, background_tasks=True)
    async with AsyncTestClient(app=app, base_url=settings.origin) as client:
        await write(4)
        assert (await client.get("/healthz")).status_code == 200
    newest = checkpoints.files(settings.checkpoint_dir)[-1][0]
    assert newest == 4
    assert (await verify(settings, signing_key)).problem is None


async def test_the_citizen_view_lists_accesses_except_withheld_ones(engine: AnyEngine) -> None:
    child = 5_000
    seen = await service.record("record.view", ALICE, at=T0, child_id=child, reason="assessment")
    await service.record("record.view", ALICE, at=T0, child_id=child + 1, reason="assessment")
    withheld = await service.record(
        "record.view", ALICE, at=T0 + timedelta(hours=1), child_id=child, reason="safeguarding_concern"
    )
    await AuditWithholding.insert(
        AuditWithholding(
            id=row_ids.next(),
            seq=withheld,
            child_id=child,
            exemption="crime_prevention",
            review_on=date(2027, 2, 1),
            recorded_by=99,
            recorded_at=T0,
        )
    ).run()
    view = await service.citizen_view(child, date(2027, 1, 31))
    assert [(e.seq, e.organisation_id, e.role, e.action, e.reason) for e in view] == [
        (seen, 21, "practitioner", "record.view", "assessment")
    ]
    # On its review date the entry shows again, unless withheld anew.
    assert [e.seq for e in await service.citizen_view(child, date(2027, 2, 1))] == [seen, withheld]
    await (
        AuditWithholding.update({AuditWithholding.lifted_at: T0})
        .where(AuditWithholding.seq == withheld)
        .run()
    )
    assert [e.seq for e in await service.citizen_view(child, date(2027, 1, 1))] == [seen, withheld]


async def test_only_codes_can_be_recorded(engine: AnyEngine) -> None:
    for bad in (
        {"action": "Searched for Zoë"},
        {"action": "record.view", "reason": "Her mum called"},
        {"action": "record.view", "subjects": ["name:Zoe"]},
        {"action": "record.view", "detail": {"term": "O'Brien"}},
        {"action": "record.viewed"},
        {"action": "record.view", "reason": "smith"},
        {"action": "record.view", "detail": {"term": ["jane", "smith"]}},
        {"action": "record.view", "detail": {"dob": 2**60}},
    ):
        action = str(bad.pop("action"))
        with pytest.raises(ValueError, match="audit"):
            await service.record(action, ALICE, at=T0, **bad)
    assert await AuditEntry.count().run() == 0


async def activity(engine: AnyEngine, actor: Actor, at: datetime, seen: int, unmatched: bool = False) -> int:
    """What a search or a view counts, in a write unit of its own."""
    return await write_unit(
        engine, lambda tx: alerts.count_activity(tx, actor, at, seen=seen, unmatched=unmatched)
    )


async def test_activity_raises_volume_and_search_pattern_alerts_once(engine: AnyEngine) -> None:
    now = T0 + timedelta(days=40)
    busy = Actor("practitioner", 501, 1, 77, "practitioner")
    steady = Actor("practitioner", 502, 1, 77, "practitioner")
    regular = Actor("practitioner", 503, 1, 77, "practitioner")
    for day in range(1, 29):  # normals: about 10 records a day, and 40 for a busier colleague
        for actor, seen in ((busy, 10), (steady, 10), (regular, 40)):
            assert await activity(engine, actor, now - timedelta(days=day), seen) == 0
    # Today busy sees 60, six times their normal: the alert comes as the count reaches 50.
    assert [await activity(engine, busy, now, 10) for _ in range(6)] == [0, 0, 0, 0, 1, 0]
    # Regular reaches 50 (not three times 40), then 100, then 150 (past 120): raised at 150.
    assert [await activity(engine, regular, now, 25) for _ in range(6)] == [0, 0, 0, 0, 0, 1]
    # Steady sees their usual 10, but from ten searches that matched nothing.
    assert [await activity(engine, steady, now, 1, unmatched=True) for _ in range(11)] == [0] * 9 + [1, 0]
    raised = {(a["kind"], a["practitioner_id"], a["authority_id"]) for a in await Alert.select().run()}
    assert raised == {("volume_spike", 501, 77), ("volume_spike", 503, 77), ("search_pattern", 502, 77)}
    later = now + timedelta(hours=1)  # a new hour: steady's pattern counts afresh
    assert [await activity(engine, steady, later, 0, unmatched=True) for _ in range(10)][-1] == 1
    audited = (
        await AuditEntry.select(AuditEntry.subjects, AuditEntry.actor_kind)
        .where(AuditEntry.action == "alert.raised")
        .run()
    )
    assert len(audited) == 4
    assert {a["actor_kind"] for a in audited} == {"system"}


async def test_spent_counters_are_purged_but_volumes_kept_for_the_baseline(engine: AnyEngine) -> None:
    now = T0 + timedelta(days=40)
    busy = Actor("practitioner", 501, 1, 77, "practitioner")
    for day in (2, 20, 35):
        await activity(engine, busy, now - timedelta(days=day), 5, unmatched=True)
    await quotas.purge(now)
    kept = sorted(r["key"] for r in await UsageCounter.select(UsageCounter.key).run())
    born = [(now - timedelta(days=d)).date().isoformat() for d in (20, 2)]
    assert kept == [f"volume:501:{born[0]}", f"volume:501:{born[1]}"]  # 35 days ago, and patterns: gone


async def test_alerts_are_handled_only_within_the_officers_authority(engine: AnyEngine) -> None:
    north, south = await make_authority(), await make_authority("E09000002", "Southshire Council")
    for authority in (north, south):
        await alerts.raise_alert(
            alerts.AlertKind.break_glass, authority_id=authority, at=T0, dedupe_key=str(authority)
        )
    ids = {a["authority_id"]: a["id"] for a in await Alert.select().run()}
    officer = Actor("practitioner", 9, 1, north, "privacy_officer")
    assert await alerts.handle(ids[south], officer, alerts.AlertStatus.acknowledged, T0) is False
    assert await alerts.handle(ids[north], officer, alerts.AlertStatus.escalated, T0) is True
    statuses = {a["authority_id"]: a["status"] for a in await Alert.select().run()}
    assert statuses == {north: "escalated", south: "open"}
    rows = await AuditEntry.select().run()
    assert [(r["action"], r["actor_id"], r["subjects"]) for r in rows] == [
        ("alert.escalated", 9, f'["alert:{ids[north]}"]')
    ]


async def test_no_checkpoint_is_signed_over_a_log_changed_since_the_last_one(
    engine: AnyEngine, settings: Settings, signing_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await write(5)
    assert await background.checkpoint(settings, signing_key, T0, force=True) is not None
    await write(3, start=T0 + timedelta(minutes=1))
    await drop_append_only_triggers(engine)
    await raw(engine, "UPDATE audit_entry SET reason = 'safeguarding_concern' WHERE seq = 7")
    with caplog.at_level(logging.CRITICAL, logger="signpost.audit"):
        assert await background.checkpoint(settings, signing_key, T0, force=True) is None
    assert any("audit.chain_broken row 7" in r.getMessage() for r in caplog.records)
    assert [size for size, _ in checkpoints.files(settings.checkpoint_dir)] == [5]


async def test_no_checkpoint_is_signed_over_a_log_that_shrank(
    engine: AnyEngine, settings: Settings, signing_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await write(5)
    assert await background.checkpoint(settings, signing_key, T0, force=True) is not None
    await write(4, start=T0 + timedelta(minutes=1))
    assert await background.checkpoint(settings, signing_key, T0, force=False) is None  # seen, not due
    await drop_append_only_triggers(engine)
    await raw(engine, "DELETE FROM audit_entry WHERE seq > 7")
    with caplog.at_level(logging.CRITICAL, logger="signpost.audit"):
        assert await background.checkpoint(settings, signing_key, T0, force=True) is None
    assert any("audit.log_shrank size=7 was=9" in r.getMessage() for r in caplog.records)


async def test_verify_wants_a_checkpoint_once_the_log_is_longer_than_the_interval(
    engine: AnyEngine, settings: Settings, signing_key: Any
) -> None:
    await write(4)
    public = signing_key.public_key()
    fine = await verify_database(settings.checkpoint_dir, public, settings.audit_log_name, unsigned_allowed=5)
    assert fine.problem is None
    await write(2, start=T0 + timedelta(minutes=1))
    unsigned = await verify_database(
        settings.checkpoint_dir, public, settings.audit_log_name, unsigned_allowed=5
    )
    assert unsigned.problem is not None
    assert (unsigned.problem.seq, unsigned.problem.kind) == (1, "checkpoint_missing")
