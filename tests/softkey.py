"""A software security key for tests: ES256 credentials, "none" or "packed" attestation.

It produces exactly what a browser hands to Signpost (RegistrationResponseJSON and
AuthenticationResponseJSON), and every part of it can be bent to make a bad response: origin,
RP ID, flags, counter, signature, attestation and AAGUID. The attestation certificates come
from a throwaway CA (:class:`AttestationCA`) whose root a test can trust or not.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID_EXTENSION = ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
TEST_AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AttestationCA:
    """A root CA that issues FIDO packed-attestation certificates."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Signpost Test Attestation Root")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, aaguid: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Signpost Test Keys"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Signpost Test Key"),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.UnrecognizedExtension(AAGUID_EXTENSION, b"\x04\x10" + uuid.UUID(aaguid).bytes),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return key, cert.public_bytes(serialization.Encoding.DER)


@dataclass
class SoftKey:
    """One credential on a software authenticator."""

    aaguid: str = TEST_AAGUID
    ca: AttestationCA | None = None  # None: "none" attestation
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: str | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _auth_data(self, rp_id: str, flags: int, counter: int, attested: bool) -> bytes:
        data = sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", counter)
        if attested:
            cid = self.credential_id
            data += uuid.UUID(self.aaguid).bytes + struct.pack(">H", len(cid)) + cid + self._cose_key()
        return data

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        flags: int = UP | UV,
        challenge: str | None = None,
    ) -> dict[str, Any]:
        """A RegistrationResponseJSON for these PublicKeyCredentialCreationOptionsJSON."""
        self.user_handle = options["user"]["id"]
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        auth_data = self._auth_data(rp_id or options["rp"]["id"], flags | AT, self.sign_count, attested=True)
        if self.ca is None:
            attestation = {"fmt": "none", "attStmt": {}, "authData": auth_data}
        else:
            cert_key, cert_der = self.ca.issue(self.aaguid)
            signature = cert_key.sign(auth_data + sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
            attestation = {
                "fmt": "packed",
                "attStmt": {"alg": -7, "sig": signature, "x5c": [cert_der]},
                "authData": auth_data,
            }
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(cbor2.dumps(attestation)),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        flags: int = UP | UV,
        counter: int | None = None,
        challenge: str | None = None,
        tamper_signature: bool = False,
    ) -> dict[str, Any]:
        """An AuthenticationResponseJSON for these PublicKeyCredentialRequestOptionsJSON."""
        if counter is None:
            self.sign_count += 1
            counter = self.sign_count
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        auth_data = self._auth_data(rp_id or options["rpId"], flags, counter, attested=False)
        signature = self.key.sign(auth_data + sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        if tamper_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if self.user_handle:
            response["userHandle"] = self.user_handle
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }
