"""Alerts for the privacy officer, raised by features as they happen or found in the trail.

Features raise an alert in the same transaction as the audit row that explains it (a key whose
counter went backwards, break-glass access, access to a shielded record, a quota breach). The
patterns only the trail shows (a practitioner's volume far above their own normal, many searches
that match nothing or too much) are found by :func:`scan`, which the service runs every minute.
Each alert has a ``dedupe_key`` so that a pattern is raised once, not once per scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from piccolo.query.functions.aggregate import Count

from app.audit import service
from app.audit.service import Actor
from app.audit.tables import Alert, AuditEntry
from app.database import Tx, run, write_transaction
from app.records.ids import row_ids


class AlertKind(StrEnum):
    break_glass = "break_glass"
    counter_regression = "counter_regression"
    quota_breach = "quota_breach"
    volume_spike = "volume_spike"
    shielded_access = "shielded_access"
    search_pattern = "search_pattern"


ALERT_LABELS: dict[AlertKind, str] = {
    AlertKind.break_glass: "Break-glass access to a record",
    AlertKind.counter_regression: "Security key may have been copied (counter went backwards); key disabled",
    AlertKind.quota_breach: "Search or record-view quota exceeded",
    AlertKind.volume_spike: "Far more records seen than this practitioner's normal",
    AlertKind.shielded_access: "Access to a shielded record",
    AlertKind.search_pattern: "Many searches that matched nothing or too many records",
}

#: The actions that count towards a practitioner's volume: records shown to them or opened.
VOLUME_ACTIONS = ("record.result_returned", "record.view")
VOLUME_BASELINE_DAYS = 28
VOLUME_FLOOR = 50  # never an alert below this many in a day
VOLUME_FACTOR = 3  # ... nor unless the day is this many times their daily average
SEARCH_PATTERN_WINDOW = timedelta(hours=1)
SEARCH_PATTERN_LIMIT = 10


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


async def _counts(
    actions: tuple[str, ...], since: datetime, until: datetime, **match: Any
) -> list[dict[str, Any]]:
    query = AuditEntry.select(AuditEntry.actor_id, AuditEntry.authority_id, Count(alias="n")).where(
        AuditEntry.action.is_in(list(actions))
        & (AuditEntry.at >= since)
        & (AuditEntry.at < until)
        & AuditEntry.actor_id.is_not_null()
    )
    for column, values in match.items():
        query = query.where(getattr(AuditEntry, column).is_in(values))
    rows: list[dict[str, Any]] = await query.group_by(AuditEntry.actor_id, AuditEntry.authority_id).run()
    return rows


async def scan(now: datetime) -> int:
    """Look for the patterns only the trail shows; return how many new alerts were raised."""
    raised = 0
    day_start = now - timedelta(days=1)
    today = [r for r in await _counts(VOLUME_ACTIONS, day_start, now) if r["n"] >= VOLUME_FLOOR]
    baseline_start = day_start - timedelta(days=VOLUME_BASELINE_DAYS)
    busy = [r["actor_id"] for r in today]  # only their history is needed: usually nobody's
    history = (
        {
            r["actor_id"]: r["n"]
            for r in await _counts(VOLUME_ACTIONS, baseline_start, day_start, actor_id=busy)
        }
        if busy
        else {}
    )
    for row in today:
        average = history.get(row["actor_id"], 0) / VOLUME_BASELINE_DAYS
        if row["n"] >= VOLUME_FLOOR and row["n"] > VOLUME_FACTOR * average and row["authority_id"]:
            raised += await _raise_found(
                AlertKind.volume_spike, row, now, f"{row['actor_id']}:{now.date().isoformat()}"
            )
    searches = await _counts(
        ("record.search",), now - SEARCH_PATTERN_WINDOW, now, outcome=["no_match", "too_many"]
    )
    for row in searches:
        if row["n"] >= SEARCH_PATTERN_LIMIT and row["authority_id"]:
            hour = now.strftime("%Y-%m-%dT%H")
            raised += await _raise_found(AlertKind.search_pattern, row, now, f"{row['actor_id']}:{hour}")
    return raised


async def _raise_found(kind: AlertKind, row: dict[str, Any], now: datetime, key: str) -> int:
    async with write_transaction(Alert._meta.db):
        if not await raise_alert(
            kind, authority_id=row["authority_id"], at=now, dedupe_key=key, practitioner_id=row["actor_id"]
        ):
            return 0
        await service.record(
            "alert.raised",
            Actor("system", authority_id=row["authority_id"]),  # so the authority's officer sees it
            at=now,
            subjects=[f"practitioner:{row['actor_id']}"],
            detail={"kind": kind.value, "count": int(row["n"])},
        )
    return 1


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
