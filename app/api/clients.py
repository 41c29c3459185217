"""API clients: registered by a local authority's Signpost team for one organisation, each with
a secret shown once.

A secret is ``spk_`` and 43 characters of base64url: 256 random bits. Only its SHA-256 is kept,
so a stolen database opens no client. Rotation replaces the hash (the old secret stops working
at once) and revocation ends the client; both are audited, as is registration.

Every call names the practitioner it acts for (:func:`caller`): they must belong to the client's
organisation, be active, be a practitioner or Signpost team member, and have signed in with
their security key within :data:`KEY_SIGN_IN_WITHIN`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.api.tables import ApiClient
from app.audit import service as audit
from app.audit.service import Actor
from app.crypto.keyring import Keyring
from app.database import write_transaction
from app.identity.service import PractitionerView, Role, load_practitioner
from app.identity.tables import Organisation
from app.records.ids import row_ids

SECRET_PREFIX = "spk_"  # noqa: S105 (the prefix every secret starts with, not a secret)
SECRET_BYTES = 32  # 256 bits
KEY_SIGN_IN_WITHIN = timedelta(hours=12)
#: Who an API call may act for: those who use the search and the records on the web.
API_ROLES = (Role.practitioner, Role.la_admin)
NAME_LIMIT = 80


class ClientNotFoundError(Exception):
    """No live client with that ID in this authority."""


@dataclass(frozen=True, slots=True)
class ClientView:
    id: int
    name: str
    organisation_id: int
    organisation_name: str
    local_authority_id: int
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def register(
    name: str, organisation_id: int, authority_id: int, actor: Actor, now: datetime
) -> tuple[int, str]:
    """A new client of an organisation of ``authority_id``; its ID and its secret (shown once)."""
    organisation = (
        await Organisation.select(Organisation.id)
        .where((Organisation.id == organisation_id) & (Organisation.local_authority == authority_id))
        .run()
    )
    if not organisation:
        raise ClientNotFoundError()
    client_id = row_ids.next()
    secret = new_secret()
    async with write_transaction(ApiClient._meta.db):
        await ApiClient.insert(
            ApiClient(
                id=client_id,
                organisation_id=organisation_id,
                local_authority_id=authority_id,
                name=name,
                secret_hash=secret_hash(secret),
                created_at=now,
                created_by=actor.id,
            )
        ).run()
        await audit.record(
            "api_client.registered",
            actor,
            at=now,
            subjects=[f"api_client:{client_id}", f"organisation:{organisation_id}"],
        )
    return client_id, secret


async def _change_live(
    client_id: int, authority_id: int, values: dict[Any, Any], action: str, actor: Actor, now: datetime
) -> None:
    """Change a live client of ``authority_id`` and audit it as ``action``, in one transaction;
    :class:`ClientNotFoundError` if there is none (another authority's, or revoked)."""
    async with write_transaction(ApiClient._meta.db):
        changed = (
            await ApiClient.update(values)
            .where(
                (ApiClient.id == client_id)
                & (ApiClient.local_authority_id == authority_id)
                & ApiClient.revoked_at.is_null()
            )
            .returning(ApiClient.id)
            .run()
        )
        if not changed:
            raise ClientNotFoundError()
        await audit.record(action, actor, at=now, subjects=[f"api_client:{client_id}"])


async def rotate(client_id: int, authority_id: int, actor: Actor, now: datetime) -> str:
    """A new secret for a live client; the old one stops working when this commits."""
    secret = new_secret()
    values = {ApiClient.secret_hash: secret_hash(secret), ApiClient.rotated_at: now}
    await _change_live(client_id, authority_id, values, "api_client.rotated", actor, now)
    return secret


async def revoke(client_id: int, authority_id: int, actor: Actor, now: datetime) -> None:
    """End a client for good: its secret stops working when this commits."""
    await _change_live(client_id, authority_id, {ApiClient.revoked_at: now}, "api_client.revoked", actor, now)


def _view(row: dict[str, object], organisation_name: str) -> ClientView:
    return ClientView(
        id=int(row["id"]),  # type: ignore[call-overload]
        name=str(row["name"]),
        organisation_id=int(row["organisation_id"]),  # type: ignore[call-overload]
        organisation_name=organisation_name,
        local_authority_id=int(row["local_authority_id"]),  # type: ignore[call-overload]
        created_at=row["created_at"],  # type: ignore[arg-type]
        rotated_at=row["rotated_at"],  # type: ignore[arg-type]
        revoked_at=row["revoked_at"],  # type: ignore[arg-type]
    )


async def clients_of_authority(authority_id: int) -> list[ClientView]:
    rows = (
        await ApiClient.select()
        .where(ApiClient.local_authority_id == authority_id)
        .order_by(ApiClient.created_at)
        .run()
    )
    organisations = {
        r["id"]: r["name"]
        for r in await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.local_authority == authority_id)
        .run()
    }
    return [_view(r, organisations.get(r["organisation_id"], "")) for r in rows]


async def authenticate(secret: str) -> ClientView | None:
    """The live client whose secret this is, or None."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        return None
    wanted = secret_hash(secret)
    rows = await ApiClient.select().where(ApiClient.secret_hash == wanted).run()
    if not rows or rows[0]["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(rows[0]["secret_hash"], wanted):
        return None
    return _view(rows[0], "")


class CallerRefusedError(Exception):
    """The practitioner named is not one this client may act for; ``code`` says which rule."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Caller:
    """A client and the practitioner it acts for in one call."""

    client: ClientView
    practitioner: PractitionerView

    @property
    def actor(self) -> Actor:
        return Actor.of(self.practitioner, via=(f"api_client:{self.client.id}",))


async def caller(keyring: Keyring, client: ClientView, practitioner_id: int, now: datetime) -> Caller:
    """Check the practitioner ``client`` names. Unknown, of another organisation, inactive or in
    a role without search all answer ``practitioner_not_allowed`` alike (a client learns nothing
    about other organisations' people); a key sign-in older than 12 hours, none, or one from
    before their keys last changed, ``key_sign_in_required``."""
    practitioner = await load_practitioner(keyring, practitioner_id, count_keys=False)
    if (
        practitioner is None
        or practitioner.organisation_id != client.organisation_id
        or not practitioner.active
        or practitioner.role not in API_ROLES
    ):
        raise CallerRefusedError("practitioner_not_allowed")
    signed_in = practitioner.last_login_at
    if (
        signed_in is None
        or signed_in < now - KEY_SIGN_IN_WITHIN
        # A key added or taken away since (perhaps a lost one): sign in again with a key they hold.
        or (practitioner.keys_changed_at is not None and practitioner.keys_changed_at > signed_in)
    ):
        raise CallerRefusedError("key_sign_in_required")
    return Caller(client, practitioner)
