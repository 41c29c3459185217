"""``signpost keys rotate``: move every ciphertext and blind index to a new root key.

1. If only one root key exists, a new version is written; if several exist, an earlier rotation
   was interrupted and this one finishes it (the newest key is the target).
2. Each table is walked in primary-key order, a batch per transaction: every row still under an
   older key is decrypted, re-encrypted under the target key and re-indexed. The update only
   applies if the row is unchanged since it was read, so a concurrent edit is never overwritten.
3. Running services pick up the new key within a few seconds (the keyring re-reads its
   directory); after that grace period a final sweep catches rows they wrote meanwhile.
4. When no row refers to an older version, the older key files are deleted.

Interrupting it at any point is safe: rows already moved say so in ``key_version``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import And, Where
from piccolo.table import Table

from app.api.tables import API_ENCRYPTED
from app.consent.tables import CONSENT_ENCRYPTED
from app.crypto.keyring import REFRESH_SECONDS, Keyring, key_path, write_new_key
from app.database import write_transaction
from app.disclosure.tables import DISCLOSURE_ENCRYPTED
from app.feeds.tables import FEED_ENCRYPTED
from app.identity.service import email_index
from app.identity.tables import Practitioner
from app.records.normalise import given_dob_key, name_dob_key
from app.records.service import GIVEN_DOB, NAME_DOB, turns_18_index
from app.records.tables import ENCRYPTED_COLUMNS, Child, FormerName
from app.subject_access.tables import SUBJECT_ACCESS_ENCRYPTED

#: Every table holding ciphertexts, with its encrypted columns.
ROTATED_COLUMNS: dict[type[Table], tuple[str, ...]] = {
    **ENCRYPTED_COLUMNS,
    Practitioner: ("name", "email"),
    **SUBJECT_ACCESS_ENCRYPTED,
    **DISCLOSURE_ENCRYPTED,
    **CONSENT_ENCRYPTED,
    **FEED_ENCRYPTED,
    **API_ENCRYPTED,
}

GRACE_SECONDS = 2 * REFRESH_SECONDS


class RotationError(Exception):
    """The rotation could not finish; the old key is kept and running it again carries on."""


@dataclass(frozen=True, slots=True)
class RotationResult:
    version: int
    rows: int
    retired: list[int]


def _reindex(
    keyring: Keyring, table: type[Table], plain: dict[str, str | None], dob: date | None, version: int
) -> dict[str, int | str]:
    if table is Child and dob is not None:
        return {
            "bidx_name_dob": keyring.blind_index(
                NAME_DOB, name_dob_key(plain["family_name"] or "", dob), version
            ),
            "bidx_given_dob": keyring.blind_index(
                GIVEN_DOB, given_dob_key(plain["given_name"] or "", dob), version
            ),
            "bidx_turns_18": turns_18_index(keyring, dob, version),
        }
    if table is Practitioner:
        return {"email_index": email_index(keyring, plain["email"] or "", version)}
    if table is FormerName and dob is not None:
        return {
            "bidx_name_dob": keyring.blind_index(
                NAME_DOB, name_dob_key(plain["family_name"] or "", dob), version
            )
        }
    return {}


async def _dates_of_birth(keyring: Keyring, child_ids: list[int]) -> dict[int, date]:
    rows = await Child.select(Child.id, Child.date_of_birth).where(Child.id.is_in(child_ids)).run()
    return {
        r["id"]: date.fromisoformat(
            keyring.decrypt("child.date_of_birth", r["id"], bytes(r["date_of_birth"]))
        )
        for r in rows
    }


def _unchanged(table: type[Table], row: dict[str, Any], columns: tuple[str, ...]) -> Where | And:
    condition: Any = (table._meta.primary_key == row["id"]) & (table.key_version == row["key_version"])  # type: ignore[attr-defined]
    for name in columns:
        column: Column = table._meta.get_column_by_name(name)
        condition &= column.is_null() if row[name] is None else column == bytes(row[name])
    return condition  # type: ignore[no-any-return]


async def _rotate_table(
    keyring: Keyring, table: type[Table], columns: tuple[str, ...], target: int, batch_size: int
) -> int:
    name = table._meta.tablename
    pk = table._meta.primary_key
    key_version = table._meta.get_column_by_name("key_version")
    last_id = -(2**63)
    moved = 0
    while True:
        wanted = [pk, key_version, *(table._meta.get_column_by_name(c) for c in columns)]
        if table is FormerName:
            wanted.append(FormerName.child)
        rows = (
            await table.select(*wanted)
            .where((pk > last_id) & (key_version < target))
            .order_by(pk)
            .limit(batch_size)
            .run()
        )
        if not rows:
            return moved
        dobs: dict[int, date] = {}
        if table is Child:
            dobs = {
                r["id"]: date.fromisoformat(
                    keyring.decrypt("child.date_of_birth", r["id"], bytes(r["date_of_birth"]))
                )
                for r in rows
            }
        elif table is FormerName:
            dobs = await _dates_of_birth(keyring, sorted({r["child"] for r in rows}))
        async with write_transaction(table._meta.db):
            for row in rows:
                plain = {
                    c: None if row[c] is None else keyring.decrypt(f"{name}.{c}", row["id"], bytes(row[c]))
                    for c in columns
                }
                values: dict[Column | str, Any] = {
                    c: None if p is None else keyring.encrypt(f"{name}.{c}", row["id"], p, target)
                    for c, p in plain.items()
                }
                dob = dobs.get(row["child"] if table is FormerName else row["id"])
                values.update(_reindex(keyring, table, plain, dob, target))
                values["key_version"] = target
                changed = (
                    await table.update(values).where(_unchanged(table, row, columns)).returning(pk).run()
                )
                moved += len(changed)
        last_id = rows[-1]["id"]


async def rotate(
    keyring: Keyring, *, batch_size: int, on_batch: Callable[[str, int], None] | None = None
) -> RotationResult:
    keyring.refresh(force=True)
    if len(keyring.versions) == 1:
        write_new_key(keyring.keys_dir, keyring.versions[-1] + 1)
        keyring.refresh(force=True)
    target = keyring.versions[-1]
    started = time.monotonic()
    moved = 0
    for table, columns in ROTATED_COLUMNS.items():
        count = await _rotate_table(keyring, table, columns, target, batch_size)
        moved += count
        if on_batch is not None:
            on_batch(table._meta.tablename, count)
    # Let every running service notice the new key, then catch what they wrote meanwhile.
    remaining = GRACE_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    for table, columns in ROTATED_COLUMNS.items():
        moved += await _rotate_table(keyring, table, columns, target, batch_size)
    for table in ROTATED_COLUMNS:
        key_version = table._meta.get_column_by_name("key_version")
        left = await table.count().where(key_version < target).run()
        if left:
            raise RotationError(
                f"{left} row(s) of {table._meta.tablename} are still under an older key; run it again"
            )
    retired = [v for v in keyring.versions if v < target]
    for version in retired:
        key_path(keyring.keys_dir, version).unlink()
    keyring.refresh(force=True)
    return RotationResult(version=target, rows=moved, retired=retired)
