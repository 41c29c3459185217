"""Per-user quotas against trawling: searches per hour and record views per day.

Counted in the database (``usage_counter``), so every worker process shares them. Going over
answers 429 until the window ends, and raises one alert for the privacy officer per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor
from app.database import write_transaction
from app.records.ids import row_ids
from app.search.tables import UsageCounter


@dataclass(frozen=True, slots=True)
class Quota:
    kind: str  # "search" or "view"
    limit: int
    hourly: bool  # else daily


class QuotaExceededError(Exception):
    def __init__(self, quota: Quota, retry_after: int) -> None:
        super().__init__(quota.kind)
        self.quota = quota
        self.retry_after = retry_after


def _window(quota: Quota, now: datetime) -> tuple[str, datetime]:
    moment = now.astimezone(UTC)
    if quota.hourly:
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%dT%H"), start + timedelta(hours=1)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m-%d"), start + timedelta(days=1)


async def consume(quota: Quota, actor: Actor, now: datetime) -> int:
    """Count one use; raise :class:`QuotaExceededError` past the limit. Returns the count."""
    label, ends = _window(quota, now)
    key = f"{quota.kind}:{actor.id}:{label}"
    async with write_transaction(UsageCounter._meta.db):
        await (
            UsageCounter.insert(UsageCounter(id=row_ids.next(), key=key, uses=0, window_ends=ends))
            .on_conflict(target=UsageCounter.key, action="DO NOTHING")
            .run()
        )
        rows = (
            await UsageCounter.update({UsageCounter.uses: UsageCounter.uses + 1})
            .where(UsageCounter.key == key)
            .returning(UsageCounter.uses)
            .run()
        )
    count = int(rows[0]["uses"])
    if count <= quota.limit:
        return count
    if count == quota.limit + 1 and actor.authority_id is not None:  # the first refusal: tell them
        async with write_transaction(UsageCounter._meta.db):
            await alerts.raise_alert(
                alerts.AlertKind.quota_breach,
                authority_id=actor.authority_id,
                at=now,
                dedupe_key=key,
                practitioner_id=actor.id,
            )
            await audit.record(
                "quota.exceeded",
                actor,
                at=now,
                outcome="refused",
                detail={"quota": quota.kind, "limit": quota.limit},
            )
    raise QuotaExceededError(quota, max(1, int((ends - now).total_seconds())))


async def purge(now: datetime) -> None:
    """Forget counters whose window ended more than a day ago."""
    await UsageCounter.delete().where(UsageCounter.window_ends < now - timedelta(days=1)).run()
