"""API clients, and the third parties a practitioner searches for ("on behalf of").

An API client's secret is never stored: only its SHA-256. The secret is 256 random bits, so a
fast hash is enough (no one can guess their way to it) and every call can be checked without
argon2's cost on the event loop.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Bytea, Integer, Timestamptz, Varchar
from piccolo.table import Table


class ApiClient(Table, tablename="api_client"):
    """A case-management system of one organisation, registered by its authority's Signpost team."""

    id = BigInt(primary_key=True)
    organisation_id = BigInt(null=False, index=True)
    local_authority_id = BigInt(null=False, index=True)
    name = Varchar(length=80, null=False)  # the system's name, e.g. "Northbrook school MIS"
    secret_hash = Varchar(length=64, null=False, unique=True)  # hex SHA-256 of the bearer secret
    created_at = Timestamptz(null=False)
    created_by = BigInt(null=True, default=None)  # the Signpost team member; none from the command line
    rotated_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class OnBehalfOf(Table, tablename="on_behalf_of"):
    """A person without Signpost access for whom a practitioner searches and views records in
    one session. Kept as long as the audit entries that name it (``on_behalf:ID``), so a
    subject-access answer can say for whom a record was opened."""

    id = BigInt(primary_key=True)
    practitioner_id = BigInt(null=False, index=True)
    session_id = BigInt(null=False, index=True)
    name = Bytea(null=False)
    organisation = Bytea(null=False)
    role = Bytea(null=False)
    telephone = Bytea(null=False)
    key_version = Integer(null=False)
    started_at = Timestamptz(null=False)
    ended_at = Timestamptz(null=True, default=None)


API_ENCRYPTED: dict[type[Table], tuple[str, ...]] = {
    OnBehalfOf: ("name", "organisation", "role", "telephone")
}
API_TABLES: list[type[Table]] = [ApiClient, OnBehalfOf]
