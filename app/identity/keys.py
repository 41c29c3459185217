"""Security keys: storing them, signing in with them, and managing them.

Every change to a practitioner's keys is written to the audit trail in the same transaction as
the change; every rejection is also logged under ``signpost.auth`` with its reason and IDs only
(no names or emails). Failures are counted in fixed 15-minute windows per client (sign-in and enrolment
apart) and per account-and-client pair, so a stranger's failures never lock the owner out;
past the limit the answer is 429 until the window ends.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from app.audit import alerts
from app.audit import service as audit
from app.audit.service import Actor
from app.database import write_transaction
from app.identity import ceremonies
from app.identity.ceremonies import CeremonyRefusedError, KeyRecord
from app.identity.service import normalise_email
from app.identity.tables import AuthThrottle, Credential, Practitioner, Session
from app.records.ids import row_ids

log = logging.getLogger("signpost.auth")

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 10
MAX_FAILURES_PER_CLIENT = 30


class ThrottledError(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class KeyView:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


async def active_credential_ids(practitioner_id: int) -> list[bytes]:
    rows = (
        await Credential.select(Credential.credential_id)
        .where((Credential.practitioner == practitioner_id) & Credential.disabled_at.is_null())
        .run()
    )
    return [bytes(r["credential_id"]) for r in rows]


async def keys_of(practitioner_id: int) -> list[KeyView]:
    rows = (
        await Credential.select()
        .where((Credential.practitioner == practitioner_id) & Credential.disabled_at.is_null())
        .order_by(Credential.created_at)
        .run()
    )
    return [KeyView(r["id"], r["name"], r["created_at"], r["last_used_at"]) for r in rows]


def _key_subjects(practitioner_id: int, key_id: int) -> list[str]:
    return [f"practitioner:{practitioner_id}", f"credential:{key_id}"]


async def add_key(practitioner_id: int, key: ceremonies.NewKey, now: datetime, actor: Actor) -> int:
    count = await Credential.count().where(Credential.practitioner == practitioner_id).run()
    credential_row_id = row_ids.next()
    async with write_transaction(Credential._meta.db):
        await Credential.insert(
            Credential(
                id=credential_row_id,
                practitioner=practitioner_id,
                credential_id=key.credential_id,
                public_key=key.public_key,
                sign_count=key.sign_count,
                aaguid=key.aaguid,
                name=f"Security key {count + 1}",
                created_at=now,
            )
        ).run()
        await _keys_changed(practitioner_id, now)
        await audit.record(
            "auth.key_added",
            actor,
            at=now,
            subjects=_key_subjects(practitioner_id, credential_row_id),
            detail={"model": key.aaguid.replace("-", "_")} if key.aaguid else None,
        )
    log.info("auth.key_added practitioner=%s credential=%s", practitioner_id, credential_row_id)
    return credential_row_id


async def _keys_changed(practitioner_id: int, now: datetime) -> None:
    await (
        Practitioner.update({Practitioner.keys_changed_at: now})
        .where(Practitioner.id == practitioner_id)
        .run()
    )


def _live_key(practitioner_id: int, key_id: int) -> Any:
    """This practitioner's key ``key_id``, if it is not disabled (a key of anyone else never matches)."""
    return (
        (Credential.id == key_id)
        & (Credential.practitioner == practitioner_id)
        & Credential.disabled_at.is_null()
    )


async def rename_key(practitioner_id: int, key_id: int, name: str, now: datetime, actor: Actor) -> bool:
    async with write_transaction(Credential._meta.db):
        changed = (
            await Credential.update({Credential.name: name})
            .where(_live_key(practitioner_id, key_id))
            .returning(Credential.id)
            .run()
        )
        if changed:
            await _keys_changed(practitioner_id, now)
            await audit.record(
                "auth.key_renamed", actor, at=now, subjects=_key_subjects(practitioner_id, key_id)
            )
    if changed:
        log.info("auth.key_renamed practitioner=%s credential=%s", practitioner_id, key_id)
    return bool(changed)


async def revoke_key(
    practitioner_id: int,
    key_id: int,
    now: datetime,
    actor: Actor,
    *,
    allow_last: bool,
    keep_session: int | None = None,
) -> bool:
    """Disable a key at once and end the practitioner's sessions (but ``keep_session``). A
    practitioner may not revoke their own last key; an admin may."""
    async with write_transaction(Credential._meta.db):
        live = await active_credential_ids(practitioner_id)
        if len(live) <= 1 and not allow_last:
            return False
        changed = (
            await Credential.update({Credential.disabled_at: now, Credential.disabled_reason: "revoked"})
            .where(_live_key(practitioner_id, key_id))
            .returning(Credential.id)
            .run()
        )
        if changed:
            await _keys_changed(practitioner_id, now)
            ending: Any = Session.practitioner == practitioner_id
            if keep_session is not None:
                ending &= Session.id != keep_session
            await Session.delete().where(ending).run()
            # The audit row last: on PostgreSQL it takes the writer lock, held until commit.
            await audit.record(
                "auth.key_revoked", actor, at=now, subjects=_key_subjects(practitioner_id, key_id)
            )
    if changed:
        log.info("auth.key_revoked practitioner=%s credential=%s", practitioner_id, key_id)
    return bool(changed)


def decoy_credential_ids(secret: str, email: str) -> list[bytes]:
    """Stable, fake credential IDs for an email with no keys, so sign-in options do not reveal
    whether an account exists: one or two IDs (as real accounts have, with a backup key) of
    lengths real keys use, keyed by the application secret so they survive key rotation."""
    seed = hmac.new(secret.encode(), b"login-decoy|" + normalise_email(email).encode(), sha256).digest()
    count = 1 + seed[0] % 2
    ids = []
    for n in range(count):
        block = hmac.new(seed, bytes([n]), sha256).digest() * 2
        ids.append(block[: (16, 32, 48, 64)[seed[1 + n] % 4]])
    return ids


async def check_throttle(subjects: list[str], now: datetime) -> None:
    for subject in subjects:
        rows = await AuthThrottle.select().where(AuthThrottle.subject == subject).run()
        if not rows or now - rows[0]["window_start"] > THROTTLE_WINDOW:
            continue
        limit = MAX_FAILURES_PER_ACCOUNT if subject.startswith("account:") else MAX_FAILURES_PER_CLIENT
        if rows[0]["failures"] >= limit:
            retry = int((rows[0]["window_start"] + THROTTLE_WINDOW - now).total_seconds()) + 1
            raise ThrottledError(max(1, retry))


async def record_failure(subjects: list[str], now: datetime) -> None:
    """Count a failure for each subject. The row is created without racing a concurrent first
    failure (``ON CONFLICT DO NOTHING``); a finished window starts again at one."""
    async with write_transaction(AuthThrottle._meta.db):
        for subject in subjects:
            await (
                AuthThrottle.insert(
                    AuthThrottle(id=row_ids.next(), subject=subject, window_start=now, failures=0)
                )
                .on_conflict(target=AuthThrottle.subject, action="DO NOTHING")
                .run()
            )
            await (
                AuthThrottle.update({AuthThrottle.window_start: now, AuthThrottle.failures: 0})
                .where(
                    (AuthThrottle.subject == subject) & (AuthThrottle.window_start < now - THROTTLE_WINDOW)
                )
                .run()
            )
            await (
                AuthThrottle.update({AuthThrottle.failures: AuthThrottle.failures + 1})
                .where(AuthThrottle.subject == subject)
                .run()
            )


async def is_registered(credential_id: bytes) -> bool:
    """Whether this credential ID is already known (live or revoked): it cannot be added again."""
    return bool(await Credential.exists().where(Credential.credential_id == credential_id).run())


async def key_for_assertion(response: dict[str, Any]) -> KeyRecord:
    credential_id = ceremonies.credential_id_of(response)
    rows = await Credential.select().where(Credential.credential_id == credential_id).run()
    if not rows:
        raise CeremonyRefusedError("login: unknown credential", "unknown_key")
    row = rows[0]
    if row["disabled_at"] is not None:
        raise CeremonyRefusedError(f"login: credential {row['id']} is disabled", "disabled_key")
    return KeyRecord(
        id=row["id"],
        practitioner_id=row["practitioner"],
        credential_id=bytes(row["credential_id"]),
        public_key=bytes(row["public_key"]),
        sign_count=int(row["sign_count"]),
    )


async def disable_cloned_key(key: KeyRecord, now: datetime, authority_id: int | None) -> None:
    """A counter that did not advance means the key may have been cloned: disable it now, end
    every session (the clone's too), and alert the privacy officer of the practitioner's authority.
    The protection is committed first: it must not wait on, or fall with, the audit write."""
    async with write_transaction(Credential._meta.db):
        await (
            Credential.update({Credential.disabled_at: now, Credential.disabled_reason: "counter_regression"})
            .where(Credential.id == key.id)
            .run()
        )
        await _keys_changed(key.practitioner_id, now)
        await Session.delete().where(Session.practitioner == key.practitioner_id).run()
    async with write_transaction(Credential._meta.db):
        seq = await audit.record(
            "auth.counter_regression",
            audit.anonymous(authority_id),
            at=now,
            subjects=_key_subjects(key.practitioner_id, key.id),
            outcome="refused",
        )
        if authority_id is not None:
            await alerts.raise_alert(
                alerts.AlertKind.counter_regression,
                authority_id=authority_id,
                at=now,
                dedupe_key=f"{key.id}",
                practitioner_id=key.practitioner_id,
                audit_seq=seq,
            )
    log.warning(
        "auth.counter_regression practitioner=%s credential=%s: key disabled; alert for the privacy officer",
        key.practitioner_id,
        key.id,
    )


async def record_use(key: KeyRecord, sign_count: int, now: datetime, *, full_sign_in: bool) -> None:
    """Store the new counter; a full sign-in (not a step-up) also moves ``last_login_at``, which
    is what the "your keys changed" notice compares against."""
    await (
        Credential.update({Credential.sign_count: sign_count, Credential.last_used_at: now})
        .where(Credential.id == key.id)
        .run()
    )
    if not full_sign_in:
        return
    await (
        Practitioner.update({Practitioner.last_login_at: now})
        .where(Practitioner.id == key.practitioner_id)
        .run()
    )
