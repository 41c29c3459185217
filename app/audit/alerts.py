"""Alerts for the privacy officer, raised by features as they happen.

Features raise an alert in the same transaction as the audit row that explains it (a key whose
counter went backwards, break-glass access, access to a shielded record, a quota breach). The
patterns of use (a practitioner's volume far above their own normal, many searches that match
nothing or too many) are counted in the same write unit as each search and record view
(:func:`count_activity`), and raised the moment a threshold is crossed: no scan of the trail,
whose size grows with the nation. Each alert has a ``dedupe_key`` so that a pattern is raised
once per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.audit import service
from app.audit.service import Actor
from app.audit.tables import Alert
from app.database import Tx, run, write_transaction
from app.records.ids import row_ids
from app.search import counters
from app.search.tables import UsageCounter


class AlertKind(StrEnum):
    break_glass = "break_glass"
    counter_regression = "counter_regression"
    quota_breach = "quota_breach"
    volume_spike = "volume_spike"
    shielded_access = "shielded_access"
    search_pattern = "search_pattern"
    subject_access_locked = "subject_access_locked"
    disclosure_overdue = "disclosure_overdue"


ALERT_LABELS: dict[AlertKind, str] = {
    AlertKind.break_glass: "Break-glass access to a record",
    AlertKind.counter_regression: "Security key may have been copied (counter went backwards); key disabled",
    AlertKind.quota_breach: "Search or record-view quota exceeded",
    AlertKind.volume_spike: "Far more records seen than this practitioner's normal",
    AlertKind.shielded_access: "Access to a shielded record",
    AlertKind.search_pattern: "Many searches that matched nothing or too many records",
    AlertKind.subject_access_locked: "A subject access response was locked after five wrong codes",
    AlertKind.disclosure_overdue: "A police disclosure request is past its decision deadline",
}

#: A practitioner's volume is the records shown to them in results or opened, per UTC day.
VOLUME_BASELINE_DAYS = 28
VOLUME_FLOOR = 50  # never an alert below this many in a day
VOLUME_FACTOR = 3  # ... nor unless the day is this many times their daily average
SEARCH_PATTERN_LIMIT = 10  # searches in a clock hour that matched nothing or too many


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    escalated = "escalated"


async def raise_alert(
    kind: AlertKind,
    *,
    authority_id: int,
    at: datetime,
    dedupe_key: str,
    practitioner_id: int | None = None,
    child_id: int | None = None,
    audit_seq: int | None = None,
    tx: Tx | None = None,
) -> bool:
    """Queue an alert (inside the caller's transaction, or the write unit ``tx``); False if it
    was already raised."""
    inserted = await run(
        tx,
        Alert.insert(
            Alert(
                id=row_ids.next(),
                kind=kind.value,
                authority_id=authority_id,
                practitioner_id=practitioner_id,
                child_id=child_id,
                audit_seq=audit_seq,
                raised_at=at,
                dedupe_key=f"{kind.value}:{dedupe_key}"[:120],
            )
        )
        .on_conflict(target=Alert.dedupe_key, action="DO NOTHING")
        .returning(Alert.id),
    )
    return bool(inserted)


async def count_activity(tx: Tx, actor: Actor, now: datetime, *, seen: int, unmatched: bool = False) -> int:
    """Inside the write unit of a search or a record view: count the records shown or opened to
    ``actor`` today (UTC) and, for a search that matched nothing or too many, this hour's such
    searches; raise ``volume_spike`` or ``search_pattern`` the moment a threshold is crossed,
    audited as ``alert.raised`` in the same unit. Returns how many alerts were raised."""
    if actor.kind != "practitioner" or actor.id is None or actor.authority_id is None:
        return 0
    who = (actor.id, actor.authority_id)
    raised = 0
    if seen:
        label, ends = counters.window(now, hourly=False)
        today = await counters.add(tx, f"volume:{actor.id}:{label}", ends, seen)
        if today >= VOLUME_FLOOR and (today - seen) // VOLUME_FLOOR < today // VOLUME_FLOOR:
            before = [
                f"volume:{actor.id}:{counters.window(now - timedelta(days=n), hourly=False)[0]}"
                for n in range(1, VOLUME_BASELINE_DAYS + 1)
            ]
            history = await tx.run(
                UsageCounter.select(UsageCounter.uses).where(UsageCounter.key.is_in(before))
            )
            average = sum(int(r["uses"]) for r in history) / VOLUME_BASELINE_DAYS
            if today > VOLUME_FACTOR * average:
                raised += await _raise_found(tx, AlertKind.volume_spike, who, now, label, today)
    if unmatched:
        hour, ends = counters.window(now, hourly=True)
        searches = await counters.add(tx, f"pattern:{actor.id}:{hour}", ends, 1)
        if searches == SEARCH_PATTERN_LIMIT:
            raised += await _raise_found(tx, AlertKind.search_pattern, who, now, hour, searches)
    return raised


async def _raise_found(
    tx: Tx, kind: AlertKind, who: tuple[int, int], now: datetime, window: str, count: int
) -> int:
    """Raise ``kind`` for ``who`` (practitioner, authority) once per ``window``; audited."""
    practitioner, authority = who
    if not await raise_alert(
        kind,
        authority_id=authority,
        at=now,
        dedupe_key=f"{practitioner}:{window}",
        practitioner_id=practitioner,
        tx=tx,
    ):
        return 0
    await service.append(
        tx,
        [
            service.Entry(
                "alert.raised",
                Actor("system", authority_id=authority),  # so the authority's officer sees it
                now,
                subjects=(f"practitioner:{practitioner}",),
                detail={"kind": kind.value, "count": count},
            )
        ],
    )
    return 1


#: Counters of records seen are kept this long: today's count is compared with the days before.
VOLUME_KEPT = timedelta(days=VOLUME_BASELINE_DAYS + 2)


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: AlertKind
    label: str
    status: AlertStatus
    raised_at: datetime
    practitioner_id: int | None
    child_id: int | None
    audit_seq: int | None
    handled_by: int | None
    handled_at: datetime | None


def _view(row: dict[str, Any]) -> AlertView:
    kind = AlertKind(row["kind"])
    return AlertView(
        id=row["id"],
        kind=kind,
        label=ALERT_LABELS[kind],
        status=AlertStatus(row["status"]),
        raised_at=row["raised_at"],
        practitioner_id=row["practitioner_id"],
        child_id=row["child_id"],
        audit_seq=row["audit_seq"],
        handled_by=row["handled_by"],
        handled_at=row["handled_at"],
    )


async def queue(authority_id: int, *, acknowledged: int = 100) -> list[AlertView]:
    """The authority's alerts: every open one, then every escalated one, then the most recent
    ``acknowledged`` ones; newest first within each."""
    views: list[AlertView] = []
    for status, limit in (
        (AlertStatus.open, None),
        (AlertStatus.escalated, None),
        (AlertStatus.acknowledged, acknowledged),
    ):
        query = (
            Alert.select()
            .where((Alert.authority_id == authority_id) & (Alert.status == status.value))
            .order_by(Alert.raised_at, ascending=False)
        )
        rows = await (query.limit(limit) if limit else query).run()
        views += [_view(r) for r in rows]
    return views


async def handle(alert_id: int, officer: Actor, status: AlertStatus, now: datetime) -> bool:
    """Acknowledge or escalate one of the officer's own authority's alerts, audited with it.
    False when there is no such alert in their authority (or it is already in that state)."""
    async with write_transaction(Alert._meta.db):
        changed = (
            await Alert.update(
                {Alert.status: status.value, Alert.handled_by: officer.id, Alert.handled_at: now}
            )
            .where(
                (Alert.id == alert_id)
                & (Alert.authority_id == officer.authority_id)
                & (Alert.status != status.value)
            )
            .returning(Alert.id)
            .run()
        )
        if not changed:
            return False
        await service.record(f"alert.{status.value}", officer, at=now, subjects=[f"alert:{alert_id}"])
    return True
