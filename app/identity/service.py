"""Practitioners, organisations, roles and one-time enrolment codes.

An enrolment code has 80 random bits (16 Crockford base-32 symbols), is stored only as an
argon2id hash, works once, expires after 72 hours and locks after 5 wrong tries. Every failure
answers the same way, whether or not the email is known. argon2 runs in a worker thread, never
on the event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.audit import service as audit
from app.audit.service import Actor
from app.crypto.keyring import Keyring
from app.database import write_transaction
from app.identity.tables import (
    Credential,
    EnrolmentCode,
    Organisation,
    Practitioner,
    Session,
    ShieldOverride,
)
from app.records.ids import ALPHABET, row_ids
from app.records.tables import LocalAuthority

CODE_SYMBOLS = 16  # 80 bits
CODE_LIFETIME = timedelta(hours=72)
CODE_MAX_FAILURES = 5
_hasher = PasswordHasher()  # argon2id, the library's RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    practitioner = "practitioner"
    la_admin = "la_admin"
    privacy_officer = "privacy_officer"
    disclosure_approver = "disclosure_approver"
    police = "police"


ROLE_LABELS: dict[Role, str] = {
    Role.practitioner: "Practitioner",
    Role.la_admin: "Local authority Signpost team",
    Role.privacy_officer: "Privacy officer",
    Role.disclosure_approver: "Disclosure approver",
    Role.police: "Police officer",
}


class EnrolmentRefusedError(Exception):
    """The email and code do not open an enrolment. Deliberately says nothing more."""


@dataclass(frozen=True, slots=True)
class PractitionerView:
    id: int
    name: str
    email: str
    role: Role
    organisation_id: int
    organisation_name: str
    local_authority_id: int
    active: bool
    child_protection: bool
    keys: int | None  # active keys; None where not counted (the per-request view)
    last_login_at: datetime | None
    keys_changed_at: datetime | None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_index(keyring: Keyring, email: str, version: int | None = None) -> str:
    """The lookup key for an email: a full-length keyed HMAC (unique, unlike a blind index)."""
    key = keyring.mac_key(keyring.active_version if version is None else version, "practitioner-email")
    return hmac.new(key, normalise_email(email).encode("utf-8"), sha256).hexdigest()


def new_enrolment_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return "-".join(symbols[i : i + 4] for i in range(0, CODE_SYMBOLS, 4))


def canonical_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def hash_code(code: str) -> str:
    return await asyncio.to_thread(_hasher.hash, canonical_code(code))


async def code_matches(code_hash: str, code: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(code_hash, canonical_code(code))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def ensure_authority(code_or_name: str, telephone: str, email: str) -> int:
    """The local authority with this ONS code or name, created if it does not exist yet."""
    rows = (
        await LocalAuthority.select(LocalAuthority.id)
        .where((LocalAuthority.code == code_or_name) | (LocalAuthority.name == code_or_name))
        .run()
    )
    if rows:
        return int(rows[0]["id"])
    authority_id = row_ids.next()
    code = (
        code_or_name
        if len(code_or_name) == 9 and code_or_name.isalnum()
        else "L" + sha256(code_or_name.encode("utf-8")).hexdigest()[:8].upper()
    )
    await LocalAuthority.insert(
        LocalAuthority(
            id=authority_id, code=code, name=code_or_name, team_telephone=telephone, team_email=email
        )
    ).run()
    return authority_id


async def ensure_organisation(authority_id: int, name: str) -> int:
    rows = (
        await Organisation.select(Organisation.id)
        .where((Organisation.local_authority == authority_id) & (Organisation.name == name))
        .run()
    )
    if rows:
        return int(rows[0]["id"])
    organisation_id = row_ids.next()
    await Organisation.insert(Organisation(id=organisation_id, local_authority=authority_id, name=name)).run()
    return organisation_id


async def find_by_email(keyring: Keyring, email: str) -> int | None:
    indexes = [email_index(keyring, email, v) for v in keyring.versions]
    rows = await Practitioner.select(Practitioner.id).where(Practitioner.email_index.is_in(indexes)).run()
    return int(rows[0]["id"]) if rows else None


async def actor_for(practitioner_id: int) -> Actor | None:
    """The practitioner as the audit trail names them (organisation, authority and role)."""
    rows = (
        await Practitioner.select(
            Practitioner.organisation,
            Practitioner.organisation.local_authority.as_alias("authority"),
            Practitioner.role,
        )
        .where(Practitioner.id == practitioner_id)
        .run()
    )
    if not rows:
        return None
    row = rows[0]
    return Actor("practitioner", practitioner_id, row["organisation"], row["authority"], row["role"])


async def create_practitioner(
    keyring: Keyring,
    *,
    name: str,
    email: str,
    role: Role,
    authority_id: int,
    organisation: str,
    now: datetime,
    actor: Actor,
) -> tuple[int, str]:
    """Create a practitioner (and their organisation, if new) with their first enrolment code;
    return (ID, code). Audited as ``practitioner.created`` by ``actor`` (an admin, or an
    operator at the command line), in the same transaction."""
    practitioner_id = row_ids.next()
    code = new_enrolment_code()
    code_hash = await hash_code(code)
    version = keyring.active_version
    async with write_transaction(Practitioner._meta.db):
        organisation_id = await ensure_organisation(authority_id, organisation)
        await Practitioner.insert(
            Practitioner(
                id=practitioner_id,
                organisation=organisation_id,
                name=keyring.encrypt("practitioner.name", practitioner_id, name, version),
                email=keyring.encrypt("practitioner.email", practitioner_id, normalise_email(email), version),
                email_index=email_index(keyring, email, version),
                role=role.value,
                key_version=version,
                created_at=now,
            )
        ).run()
        await _insert_code(practitioner_id, code_hash, now)
        await audit.record(
            "practitioner.created",
            actor,
            at=now,
            subjects=[f"practitioner:{practitioner_id}", f"organisation:{organisation_id}"],
            detail={"role": role.value},
        )
    return practitioner_id, code


async def _insert_code(practitioner_id: int, code_hash: str, now: datetime) -> None:
    await EnrolmentCode.insert(
        EnrolmentCode(
            id=row_ids.next(),
            practitioner=practitioner_id,
            code_hash=code_hash,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    ).run()


async def reissue_code(practitioner_id: int, now: datetime, actor: Actor) -> str:
    """A fresh code (e.g. after a lost key); earlier codes stop working, keys stay valid."""
    code = new_enrolment_code()
    code_hash = await hash_code(code)
    async with write_transaction(EnrolmentCode._meta.db):
        await (
            EnrolmentCode.update({EnrolmentCode.withdrawn: True})
            .where((EnrolmentCode.practitioner == practitioner_id) & EnrolmentCode.used_at.is_null())
            .run()
        )
        await _insert_code(practitioner_id, code_hash, now)
        await audit.record(
            "practitioner.code_reissued", actor, at=now, subjects=[f"practitioner:{practitioner_id}"]
        )
    return code


async def redeem_code(keyring: Keyring, email: str, code: str, now: datetime) -> int:
    """The practitioner this email and code enrol; the code is spent. Raises the same error for
    an unknown email, a wrong, used, expired, withdrawn or locked code, or an inactive account."""
    practitioner_id = await find_by_email(keyring, email)
    rows = []
    if practitioner_id is not None:
        rows = (
            await EnrolmentCode.select()
            .where(
                (EnrolmentCode.practitioner == practitioner_id)
                & EnrolmentCode.used_at.is_null()
                & (EnrolmentCode.withdrawn == False)  # noqa: E712 -- Piccolo builds SQL from ==
            )
            .order_by(EnrolmentCode.created_at, ascending=False)
            .limit(1)
            .run()
        )
    if not rows or practitioner_id is None:
        await code_matches(_DUMMY_HASH, code)  # the same work, so timing does not tell
        await audit.record("auth.enrolment_failed", audit.anonymous(), at=now, outcome="refused")
        raise EnrolmentRefusedError
    row = rows[0]
    usable = row["expires_at"] > now and row["failed_attempts"] < CODE_MAX_FAILURES
    matched = await code_matches(row["code_hash"], code)
    owner = await actor_for(practitioner_id)
    authority = owner.authority_id if owner else None
    if not (usable and matched):
        if usable:  # counted first, on its own: the lock-out must not depend on the audit write
            await (
                EnrolmentCode.update({EnrolmentCode.failed_attempts: EnrolmentCode.failed_attempts + 1})
                .where(EnrolmentCode.id == row["id"])
                .run()
            )
        await _enrolment_failed(practitioner_id, authority, "wrong_code" if usable else "code_unusable", now)
        raise EnrolmentRefusedError
    async with write_transaction(EnrolmentCode._meta.db):
        active = (
            await Practitioner.select(Practitioner.active).where(Practitioner.id == practitioner_id).run()
        )
        spent = (
            await EnrolmentCode.update({EnrolmentCode.used_at: now})
            .where((EnrolmentCode.id == row["id"]) & EnrolmentCode.used_at.is_null())
            .returning(EnrolmentCode.id)
            .run()
            if active and active[0]["active"]
            else []
        )
        if spent and owner is not None:
            await audit.record(
                "auth.enrolment_code_used", owner, at=now, subjects=[f"practitioner:{practitioner_id}"]
            )
        else:  # inactive, or spent by a concurrent request a moment ago
            await _enrolment_failed(practitioner_id, authority, "code_unusable", now)
    if not spent or owner is None:
        raise EnrolmentRefusedError
    return int(row["practitioner"])


async def _enrolment_failed(
    practitioner_id: int, authority_id: int | None, reason: str, now: datetime
) -> None:
    await audit.record(
        "auth.enrolment_failed",
        audit.anonymous(authority_id),
        at=now,
        subjects=[f"practitioner:{practitioner_id}"],
        outcome="refused",
        detail={"reason": reason},
    )


#: Read on every signed-in request: one fixed statement (the ORM builds the join afresh each time).
_PRACTITIONER = (
    'SELECT "practitioner".*, "organisation"."name" AS "organisation_name", '
    '"organisation"."local_authority" AS "local_authority_id" '
    'FROM "practitioner" JOIN "organisation" ON "organisation"."id" = "practitioner"."organisation" '
    'WHERE "practitioner"."id" = {}'
)


async def load_practitioner(
    keyring: Keyring, practitioner_id: int, *, count_keys: bool = True
) -> PractitionerView | None:
    rows = await Practitioner.raw(_PRACTITIONER, practitioner_id).run()
    if not rows:
        return None
    row = rows[0]
    keys = None
    if count_keys:
        keys = (
            await Credential.count()
            .where((Credential.practitioner == practitioner_id) & Credential.disabled_at.is_null())
            .run()
        )
    return PractitionerView(
        id=row["id"],
        name=keyring.decrypt("practitioner.name", row["id"], bytes(row["name"])),
        email=keyring.decrypt("practitioner.email", row["id"], bytes(row["email"])),
        role=Role(row["role"]),
        organisation_id=row["organisation"],
        organisation_name=row["organisation_name"],
        local_authority_id=row["local_authority_id"],
        active=bool(row["active"]),
        child_protection=bool(row["child_protection"]),
        keys=keys,
        last_login_at=row["last_login_at"],
        keys_changed_at=row["keys_changed_at"],
    )


async def practitioners_of_authority(keyring: Keyring, authority_id: int) -> list[PractitionerView]:
    rows = (
        await Practitioner.select(Practitioner.id)
        .where(Practitioner.organisation.local_authority == authority_id)
        .order_by(Practitioner.created_at)
        .run()
    )
    views = [await load_practitioner(keyring, r["id"]) for r in rows]
    return [v for v in views if v is not None]


async def organisation_names(ids: set[int]) -> dict[int, str]:
    """The names of these organisations, by ID (the audit's views name organisations, not people)."""
    if not ids:
        return {}
    rows = (
        await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.id.is_in(list(ids)))
        .run()
    )
    return {r["id"]: r["name"] for r in rows}


async def organisations_of_authority(authority_id: int) -> list[dict[str, object]]:
    rows = (
        await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.local_authority == authority_id)
        .order_by(Organisation.name)
        .run()
    )
    return list(rows)


async def revoke_practitioner(practitioner_id: int, now: datetime, actor: Actor) -> None:
    """Revoke a user at once: no sign-in, no enrolment, and every live session ends."""
    async with write_transaction(Practitioner._meta.db):
        await (
            Practitioner.update({Practitioner.active: False}).where(Practitioner.id == practitioner_id).run()
        )
        await (
            EnrolmentCode.update({EnrolmentCode.withdrawn: True})
            .where(EnrolmentCode.practitioner == practitioner_id)
            .run()
        )
        await Session.delete().where(Session.practitioner == practitioner_id).run()
        await audit.record(
            "practitioner.revoked", actor, at=now, subjects=[f"practitioner:{practitioner_id}"]
        )


async def set_child_protection(practitioner_id: int, allowed: bool, now: datetime, actor: Actor) -> None:
    async with write_transaction(Practitioner._meta.db):
        await (
            Practitioner.update({Practitioner.child_protection: allowed})
            .where(Practitioner.id == practitioner_id)
            .run()
        )
        if not allowed:  # overrides already granted end with the permission
            sessions = Session.select(Session.id).where(Session.practitioner == practitioner_id)
            await ShieldOverride.delete().where(ShieldOverride.session.is_in(sessions)).run()
        await audit.record(
            "practitioner.child_protection_changed",
            actor,
            at=now,
            subjects=[f"practitioner:{practitioner_id}"],
            detail={"allowed": allowed},
        )


async def mark_signed_in(practitioner_id: int, now: datetime) -> None:
    await (
        Practitioner.update({Practitioner.last_login_at: now}).where(Practitioner.id == practitioner_id).run()
    )


async def any_admin() -> bool:
    return bool(await Practitioner.exists().where(Practitioner.role == Role.la_admin.value).run())
