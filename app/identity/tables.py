"""Practitioners, their organisations, security keys, enrolment codes and sessions.

Practitioners' names and emails are encrypted like every personal field; the email is found
through ``email_index`` (a full-length keyed HMAC, so it is unique). No password exists anywhere.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.records.tables import LocalAuthority


class Organisation(Table, tablename="organisation"):
    id = BigSerial(primary_key=True)
    local_authority = ForeignKey(references=LocalAuthority, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=120, null=False)


class Practitioner(Table, tablename="practitioner"):
    """A user of Signpost. One organisation, one role."""

    id = BigSerial(primary_key=True)
    organisation = ForeignKey(references=Organisation, null=False, on_delete=OnDelete.restrict)
    name = Bytea(null=False)
    email = Bytea(null=False)
    email_index = Varchar(length=64, null=False, unique=True)
    role = Varchar(length=20, null=False)
    child_protection = Boolean(null=False, default=False)
    active = Boolean(null=False, default=True)
    key_version = Integer(null=False)
    created_at = Timestamptz(null=False)
    last_login_at = Timestamptz(null=True, default=None)
    keys_changed_at = Timestamptz(null=True, default=None)


class EnrolmentCode(Table, tablename="enrolment_code"):
    """A one-time code that lets a practitioner register security keys. Stored as argon2id only."""

    id = BigSerial(primary_key=True)
    practitioner = ForeignKey(references=Practitioner, null=False, on_delete=OnDelete.cascade, index=True)
    code_hash = Varchar(length=200, null=False)
    created_at = Timestamptz(null=False)
    expires_at = Timestamptz(null=False)
    failed_attempts = Integer(null=False, default=0)
    used_at = Timestamptz(null=True, default=None)
    withdrawn = Boolean(null=False, default=False)


class Credential(Table, tablename="credential"):
    """A registered security key (WebAuthn public-key credential)."""

    id = BigSerial(primary_key=True)
    practitioner = ForeignKey(references=Practitioner, null=False, on_delete=OnDelete.cascade, index=True)
    credential_id = Bytea(null=False, unique=True)
    public_key = Bytea(null=False)
    sign_count = BigInt(null=False, default=0)
    aaguid = Varchar(length=36, null=False)
    name = Varchar(length=60, null=False)
    created_at = Timestamptz(null=False)
    last_used_at = Timestamptz(null=True, default=None)
    disabled_at = Timestamptz(null=True, default=None)
    disabled_reason = Varchar(length=30, null=True, default=None)


class Session(Table, tablename="session"):
    """A server-side session. The cookie carries a random token; only its SHA-256 is stored."""

    id = BigSerial(primary_key=True)
    token_hash = Varchar(length=64, null=False, unique=True)
    practitioner = ForeignKey(references=Practitioner, null=True, on_delete=OnDelete.cascade, index=True)
    purpose = Varchar(length=12, null=False)  # "anonymous", "enrolment" or "signed_in"
    created_at = Timestamptz(null=False)
    last_seen_at = Timestamptz(null=False)
    authenticated_at = Timestamptz(null=True, default=None)
    step_up_at = Timestamptz(null=True, default=None)
    challenge = Bytea(null=True, default=None)
    challenge_purpose = Varchar(length=12, null=True, default=None)
    challenge_expires_at = Timestamptz(null=True, default=None)
    notice = Varchar(length=40, null=True, default=None)


class AuthThrottle(Table, tablename="auth_throttle"):
    """Failed sign-in and enrolment attempts per account and per client, in fixed windows."""

    id = BigSerial(primary_key=True)
    subject = Varchar(length=80, null=False, unique=True)
    window_start = Timestamptz(null=False)
    failures = Integer(null=False, default=0)


class ShieldOverride(Table, tablename="shield_override"):
    """A break-glass override of one shielded record, for one session only: it goes when the
    session ends (sign-out, expiry, or the new session every sign-in makes)."""

    id = BigSerial(primary_key=True)
    session = ForeignKey(references=Session, null=False, on_delete=OnDelete.cascade, index=True)
    child_id = BigInt(null=False)
    granted_at = Timestamptz(null=False)


IDENTITY_TABLES: list[type[Table]] = [
    Organisation,
    Practitioner,
    EnrolmentCode,
    Credential,
    Session,
    AuthThrottle,
    ShieldOverride,
]
