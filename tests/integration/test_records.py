"""The record store on each backend: round trips, blind-index search, nothing readable at rest."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from app.crypto.keyring import DecryptionError, Keyring
from app.database import ALL_TABLES, AnyEngine
from app.records.schemas import ChildDetails, PersonName
from app.records.service import create_child, find_by_name_and_birth_date, load_child
from app.records.tables import Child
from app.records.validation import child_problems
from app.seed import names
from app.settings import Settings
from tests.conftest import env_for
from tests.factories import child_details, make_authority
from tests.integration.test_cli import signpost

SECRET_VALUES = [
    "Quillfeather",  # carer's name
    "Pemberton",  # practitioner's name
    "NB12 3XY",
    "NB123XY",
    "07700 900 417",
    "O'Brien",
    "Zo\u00eb",
    "2014-02-28",  # date of birth
    "iolo.pembertonhart@cypmhs.example.org",  # work email
    "Flat 2",
]


async def test_a_child_round_trips_through_the_encrypted_store(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    details = child_details(authority, former_names=(PersonName(given_name="Zoe", family_name="Kowalski"),))
    assert child_problems(details, date(2026, 11, 24)) == []
    stored = await create_child(keyring, details)
    loaded = await load_child(keyring, stored.id)
    assert loaded.details == details
    assert loaded.signpost_id == stored.signpost_id


@pytest.mark.parametrize(
    "typed", ["O'Brien-Smith", "obrien smith", "  OBRIEN-SMITH ", "O\u2019Brien Smith", "Kowalski"]
)
async def test_search_normalises_names_and_finds_former_names(
    engine: AnyEngine, keyring: Keyring, typed: str
) -> None:
    authority = await make_authority()
    former = (PersonName(given_name="Zoe", family_name="Kowalski"),)
    wanted = await create_child(keyring, child_details(authority, former_names=former))
    await create_child(
        keyring, child_details(authority, date_of_birth=date(2014, 3, 1))
    )  # same name, other day
    found = await find_by_name_and_birth_date(keyring, typed, date(2014, 2, 28))
    assert [r.id for r in found] == [wanted.id]


async def test_search_without_a_match_is_empty(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    await create_child(keyring, child_details(authority))
    assert await find_by_name_and_birth_date(keyring, "Smith", date(2014, 2, 28)) == []


async def test_a_ciphertext_moved_between_rows_does_not_decrypt(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    first = await create_child(keyring, child_details(authority))
    second = await create_child(keyring, child_details(authority, family_name="Other"))
    row = (await Child.select(Child.family_name).where(Child.id == first.id).run())[0]
    await Child.update({Child.family_name: row["family_name"]}).where(Child.id == second.id).run()
    with pytest.raises(DecryptionError):
        await load_child(keyring, second.id)


async def test_the_stored_bytes_hold_no_personal_value(
    engine: AnyEngine, keyring: Keyring, settings: Settings
) -> None:
    authority = await make_authority()
    await create_child(keyring, child_details(authority))
    stored = await stored_bytes(settings)
    assert b"Northshire" in stored  # the scan sees plain text: authority names are not personal
    for value in SECRET_VALUES:
        for encoded in (value.encode("utf-8"), value.encode("utf-16-le")):
            assert encoded not in stored, value
            assert encoded.hex().encode("ascii") not in stored, value  # bytea is dumped as hex


async def test_a_seeded_childs_values_are_nowhere_in_the_stored_bytes(
    tmp_path: Path, settings: Settings, keyring: Keyring, engine: AnyEngine
) -> None:
    """Seed through the real command, then look for one seeded child's values in the raw store."""
    env = env_for(settings.data_dir)
    if settings.database.dsn:
        env["SIGNPOST_DATABASE_URL"] = settings.database.dsn
    result = signpost("seed", "--children", "200", "--seed", "11", "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    plain_words = " ".join([*names.TOWNS, *names.STREET_STEMS, *names.AUTHORITY_STEMS]).lower()
    children = [await load_child(keyring, r["id"]) for r in await Child.select(Child.id).run()]

    def unmistakable(c: ChildDetails) -> bool:
        names_plain = c.given_name.lower() in plain_words or c.family_name.lower() in plain_words
        return bool(c.address and c.carers and c.carers[0].telephone) and not names_plain

    child = next(c.details for c in children if unmistakable(c.details))
    assert child.address is not None
    assert child.carers[0].telephone is not None
    values = [child.given_name, child.family_name, child.address.postcode, child.carers[0].telephone]
    stored = await stored_bytes(settings)
    for value in values:
        assert value.encode("utf-8") not in stored, value
        assert value.encode("utf-8").hex().encode("ascii") not in stored, value


async def stored_bytes(settings: Settings) -> bytes:
    """Everything the database holds, as an attacker with a copy of it would see it."""
    if settings.database.sqlite_path is not None:
        path = settings.database.sqlite_path
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert settings.database.dsn is not None
    pg_dump = shutil.which("pg_dump")
    if pg_dump:
        return subprocess.run(
            [pg_dump, "--data-only", settings.database.dsn], capture_output=True, check=True
        ).stdout
    connection = await asyncpg.connect(settings.database.dsn)  # the client tools are optional
    chunks: list[bytes] = []
    for table in ALL_TABLES:
        await connection.copy_from_table(table._meta.tablename, output=lambda b: chunks.append(bytes(b)))
    await connection.close()
    return b"".join(chunks)


async def test_signpost_ids_are_unique(engine: AnyEngine, keyring: Keyring) -> None:
    authority = await make_authority()
    first = await create_child(keyring, child_details(authority))
    second = await create_child(keyring, child_details(authority, family_name="Other"))
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Child.update({Child.signpost_id: first.signpost_id}).where(Child.id == second.id).run()
