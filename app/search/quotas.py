"""Per-user quotas against trawling: searches per hour and record views per day.

Counted in the database (``usage_counter``), so every worker process shares them. Going over
answers 429 until the window ends, and raises one alert for the privacy officer per window.
A use is counted in the same write unit as the audit rows of what it was used for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor
from app.database import Tx
from app.search import counters
from app.search.tables import UsageCounter


@dataclass(frozen=True, slots=True)
class Quota:
    kind: str  # "search" or "view"; "api_search" or "api_view" for an API client's own
    limit: int
    hourly: bool  # else daily
    owner: str = ""  # whose uses count: the actor's ID unless named (e.g. "client:7")


class QuotaExceededError(Exception):
    def __init__(self, quota: Quota, retry_after: int) -> None:
        super().__init__(quota.kind)
        self.quota = quota
        self.retry_after = retry_after


def _key(quota: Quota, actor: Actor, now: datetime) -> tuple[str, datetime]:
    label, ends = counters.window(now, hourly=quota.hourly)
    return f"{quota.kind}:{quota.owner or actor.id}:{label}", ends


def _retry_after(ends: datetime, now: datetime) -> int:
    return max(1, int((ends - now).total_seconds()))


#: Windows this process has seen refused, by key, with their end: later uses in the same window
#: are refused before any work is done. The counter in the database stays the authority.
_refused: dict[str, datetime] = {}
_REMEMBER_AT_MOST = 10_000


def check(quota: Quota | tuple[Quota, ...], actor: Actor, now: datetime) -> None:
    """Refuse early, without counting or reading the database, once this process has seen this
    window refused (spares the work of a search the quota will refuse anyway)."""
    for one in quota if isinstance(quota, tuple) else (quota,):
        key, ends = _key(one, actor, now)
        if key in _refused:
            raise QuotaExceededError(one, _retry_after(ends, now))


def refused(quota: Quota, actor: Actor, now: datetime) -> QuotaExceededError:
    """Remember a refusal that :func:`use` reported and was committed; the error to raise."""
    key, ends = _key(quota, actor, now)
    if len(_refused) >= _REMEMBER_AT_MOST:
        for stale in [k for k, end in _refused.items() if end <= now]:
            del _refused[stale]
    if len(_refused) < _REMEMBER_AT_MOST:
        _refused[key] = ends
    return QuotaExceededError(quota, _retry_after(ends, now))


async def use(tx: Tx, quota: Quota, actor: Actor, now: datetime) -> bool:
    """Count one use inside the write unit ``tx``; whether it is within the limit. The first
    refusal in a window alerts the privacy officer and is audited, in the same unit (raise
    :func:`refused` once the unit has committed)."""
    key, ends = _key(quota, actor, now)
    count = await counters.add(tx, key, ends)
    if count <= quota.limit:
        return True
    if count == quota.limit + 1 and actor.authority_id is not None:  # the first refusal: tell them
        # The entry names the practitioner, and an API client's quota the client too
        # (``api_client:ID``, from the actor); the alert points at it.
        [seq] = await audit.append(
            tx,
            [
                audit.Entry(
                    "quota.exceeded",
                    actor,
                    now,
                    outcome="refused",
                    detail={"quota": quota.kind, "limit": quota.limit},
                )
            ],
        )
        await alerts.raise_alert(
            alerts.AlertKind.quota_breach,
            authority_id=actor.authority_id,
            at=now,
            dedupe_key=key,
            practitioner_id=None if quota.owner else actor.id,  # a client's quota: not one person's
            audit_seq=seq,
            tx=tx,
        )
    return False


async def use_all(tx: Tx, quota: Quota | tuple[Quota, ...], actor: Actor, now: datetime) -> Quota | None:
    """Count one use against each quota in turn (:func:`use`); the first that refuses, if any
    (the ones after it are not counted, and the ones before it are given back)."""
    counted: list[Quota] = []
    for one in quota if isinstance(quota, tuple) else (quota,):
        if not await use(tx, one, actor, now):
            for earlier in counted:  # a refused call uses none of the other allowances
                key, ends = _key(earlier, actor, now)
                await counters.add(tx, key, ends, amount=-1)
            return one
        counted.append(one)
    return None


async def purge(now: datetime) -> None:
    """Forget counters whose window ended more than a day ago, but for the daily volumes that
    alerts compare with the weeks before (kept ``alerts.VOLUME_KEPT``)."""
    await (
        UsageCounter.delete()
        .where((UsageCounter.window_ends < now - timedelta(days=1)) & UsageCounter.key.not_like("volume:%"))
        .run()
    )
    await UsageCounter.delete().where(UsageCounter.window_ends < now - alerts.VOLUME_KEPT).run()
