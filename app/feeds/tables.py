"""Feeds, the review queue and shielding decisions. The only personal data here is a queued
row, encrypted, and erased once the admin has decided; every column is listed in
docs/data-dictionary.md.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    BigSerial,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.records.tables import Child, LocalAuthority


class FeedImport(Table, tablename="feed_import"):
    """A feed file that was imported (a rejected file leaves only its audit row)."""

    id = BigInt(primary_key=True)
    source = Varchar(length=40, null=False)
    # The authority whose admin uploaded it on the web page; null from `signpost import`.
    local_authority = ForeignKey(references=LocalAuthority, null=True, on_delete=OnDelete.restrict)
    imported_by = BigInt(null=True, default=None)  # the Signpost user; null: an operator
    imported_at = Timestamptz(null=False)
    rows = Integer(null=False)
    created = Integer(null=False)
    updated = Integer(null=False)
    unchanged = Integer(null=False)
    moved = Integer(null=False)
    queued = Integer(null=False)
    skipped = Integer(null=False)


class FeedReview(Table, tablename="feed_review"):
    """A row the importer would not guess about, waiting for the local-authority admin."""

    id = BigInt(primary_key=True)
    # The feed_import row (a plain column: a foreign key to an application-chosen BigInt key
    # would take the embedded database's INTEGER type when migrations run under tests).
    feed_import = BigInt(null=False, index=True)
    local_authority = ForeignKey(
        references=LocalAuthority, null=False, on_delete=OnDelete.restrict, index=True
    )
    line = Integer(null=False)
    # The incoming row (app/feeds/format.py FeedRow as JSON), encrypted; erased once decided.
    row = Bytea(null=True, default=None)
    candidates = Varchar(length=400, null=False)  # the possible records' row IDs, comma-separated
    # "several", "uncertain", "shielded", "signpost_id" or "other_authority"
    why = Varchar(length=20, null=False)
    # A keyed hash of the row's content, so the same row loaded again is not queued twice.
    row_hash = Varchar(length=32, null=False, default="", index=True)
    status = Varchar(length=20, null=False, default="pending", index=True)
    child = BigInt(null=True, default=None)  # the record the decision created or merged into
    decided_by = BigInt(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(null=False)
    key_version = Integer(null=False)


class Shielding(Table, tablename="shielding"):
    """Why a record is shielded and when that is next reviewed (the flag is ``child.shielded``)."""

    id = BigSerial(primary_key=True)
    child = ForeignKey(references=Child, null=False, on_delete=OnDelete.cascade, unique=True)
    reason = Varchar(length=30, null=False)
    review_date = Date(null=False, index=True)
    set_by = BigInt(null=True, default=None)
    set_at = Timestamptz(null=False)


FEED_ENCRYPTED: dict[type[Table], tuple[str, ...]] = {FeedReview: ("row",)}
FEED_TABLES: list[type[Table]] = [FeedImport, FeedReview, Shielding]
