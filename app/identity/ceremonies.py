"""WebAuthn registration and sign-in, with py_webauthn doing the protocol verification.

Signpost adds its policy on top: user verification always required; ES256 and EdDSA only;
resident keys preferred; the credential must belong to the practitioner signing in; a signature
counter that fails to advance disables the key (after the signature has verified, so a forged
assertion cannot disable anyone's key); and the attestation policy below.

Attestation policy. Unless the development-only ``SIGNPOST_DEV_ALLOW_NONE_ATTESTATION`` is on,
a key must present an attestation statement with a certificate chain (``x5c``) that py_webauthn
verifies against ``SIGNPOST_WEBAUTHN_ATTESTATION_ROOTS`` where given, its AAGUID must be on the
allow-list (required in production), and a credential flagged as backup-eligible or backed up
(a synced passkey) is refused: the key must be a hardware key that cannot be copied.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_attestation_object,
    parse_authenticator_data,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier

# Every error py_webauthn raises for a response it cannot accept (a malformed structure included)
# derives from WebAuthnException: the browser's JSON is untrusted input.
from webauthn.helpers.exceptions import (
    InvalidPublicKeyStructure,
    UnsupportedAlgorithm,
    UnsupportedEC2Curve,
    UnsupportedPublicKeyType,
    WebAuthnException,
)
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.settings import Settings

log = logging.getLogger("signpost.auth")

ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA]
TIMEOUT_MS = 5 * 60 * 1000
BACKUP_ELIGIBLE = 1 << 3
BACKED_UP = 1 << 4


class CeremonyRefusedError(Exception):
    """The browser's response is not accepted. ``reason`` is for the log, never for the user;
    ``code`` is the short code the audit trail records."""

    def __init__(self, reason: str, code: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class NewKey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the server holds about a registered key, for checking an assertion against it."""

    id: int
    practitioner_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int


def registration_options(
    settings: Settings,
    *,
    practitioner_id: int,
    email: str,
    name: str,
    existing: list[bytes],
    challenge: bytes,
) -> dict[str, Any]:
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name="Signpost",
        user_id=practitioner_id.to_bytes(8, "big"),
        user_name=email,
        user_display_name=name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.DIRECT,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        supported_pub_key_algs=ALGORITHMS,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_registration(settings: Settings, response: dict[str, Any], challenge: bytes) -> NewKey:
    try:
        credential = parse_registration_credential_json(response)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_presence=True,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
            pem_root_certs_bytes_by_fmt={fmt: list(settings.attestation_roots) for fmt in AttestationFormat}
            if settings.attestation_roots
            else None,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyRefusedError(f"registration: {exc}", "bad_registration") from None
    if not settings.allow_none_attestation:
        statement = parse_attestation_object(verified.attestation_object).att_stmt
        if verified.fmt == AttestationFormat.NONE or not statement.x5c:
            raise CeremonyRefusedError("registration: no verifiable attestation", "no_attestation")
        if settings.allowed_aaguids and verified.aaguid.lower() not in settings.allowed_aaguids:
            raise CeremonyRefusedError(
                f"registration: AAGUID {verified.aaguid} not allowed", "model_not_allowed"
            )
        if verified.credential_backed_up or _backup_eligible(verified.attestation_object):
            raise CeremonyRefusedError("registration: synced or backed-up credential", "synced_key")
    return NewKey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
    )


def _backup_eligible(attestation_object: bytes) -> bool:
    auth_data = parse_attestation_object(attestation_object).auth_data
    return bool(auth_data.flags.be or auth_data.flags.bs)


def authentication_options(
    settings: Settings, *, allowed: list[bytes] | None, challenge: bytes
) -> dict[str, Any]:
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[
            PublicKeyCredentialDescriptor(
                id=c, transports=[AuthenticatorTransport.USB, AuthenticatorTransport.NFC]
            )
            for c in allowed or []
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def credential_id_of(response: dict[str, Any]) -> bytes:
    try:
        return bytes(parse_authentication_credential_json(response).raw_id)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyRefusedError(f"login: malformed response: {exc}", "malformed") from None


@dataclass(frozen=True, slots=True)
class Assertion:
    new_sign_count: int
    counter_regressed: bool


#: What py_webauthn raises about the stored public key (corrupt, or an algorithm it no longer
#: supports): Signpost's fault, never the browser's.
_STORED_KEY_ERRORS = (
    InvalidPublicKeyStructure,
    UnsupportedPublicKeyType,
    UnsupportedAlgorithm,
    UnsupportedEC2Curve,
)


def verify_assertion(
    settings: Settings, response: dict[str, Any], challenge: bytes, key: KeyRecord
) -> Assertion:
    """Verify a sign-in assertion against ``key``.

    py_webauthn checks origin, RP ID hash, challenge, presence, verification and signature; it is
    given a stored count of 0 so that Signpost judges the counter itself, after the signature has
    verified, and can disable a cloned key rather than merely refuse it.
    """
    try:
        credential = parse_authentication_credential_json(response)
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except _STORED_KEY_ERRORS:
        raise  # the key Signpost stored is at fault, not the answer: a logged 500, not a refusal
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyRefusedError(f"login: {exc}", "bad_assertion") from None
    if verified.credential_backed_up and not settings.allow_none_attestation:
        raise CeremonyRefusedError("login: credential is now backed up", "synced_key")
    flags = parse_authenticator_data(bytes(credential.response.authenticator_data)).flags
    if not flags.uv:  # belt and braces: verify_authentication_response already requires it
        raise CeremonyRefusedError("login: user not verified", "not_user_verified")
    regressed = (
        verified.new_sign_count > 0 or key.sign_count > 0
    ) and verified.new_sign_count <= key.sign_count
    return Assertion(new_sign_count=verified.new_sign_count, counter_regressed=regressed)
