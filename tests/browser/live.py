"""The live service's demo data, shared by the browser tests: it is seeded once, by whichever test
needs a child first (the server lives for the whole session)."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from app.crypto.keyring import Keyring
from tests.browser.conftest import SIGNPOST


@dataclass(frozen=True)
class SeededChild:
    given: str
    family: str
    born: date
    authority: str
    authority_id: int
    authority_code: str


def a_child_of_the_live_service(live_env: dict[str, str]) -> SeededChild:
    """One unshielded child of the live service (seeding it first if it holds none)."""
    data = Path(live_env["SIGNPOST_DATA_DIR"])
    query = (
        "SELECT child.id, given_name, family_name, date_of_birth, local_authority.name, "
        "local_authority.id, local_authority.code FROM child "
        "JOIN local_authority ON local_authority.id = child.local_authority WHERE shielded = 0 LIMIT 1"
    )
    with sqlite3.connect(data / "signpost.sqlite3") as database:
        row = database.execute(query).fetchone()
    if row is None:
        seeded = subprocess.run(
            [SIGNPOST, "seed", "--children", "40", "--seed", "7", "--no-progress"],
            env=live_env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stderr
        with sqlite3.connect(data / "signpost.sqlite3") as database:
            row = database.execute(query).fetchone()
    child_id, given, family, born, authority, authority_id, authority_code = row
    keyring = Keyring(data / "keys")
    return SeededChild(
        keyring.decrypt("child.given_name", child_id, given),
        keyring.decrypt("child.family_name", child_id, family),
        date.fromisoformat(keyring.decrypt("child.date_of_birth", child_id, born)),
        authority,
        authority_id,
        authority_code,
    )


_ADD_YOUNG_PERSON = """
import asyncio, sys
from datetime import date
from msgspec.structs import replace
from app import database
from app.crypto.keyring import Keyring
from app.records.service import create_child
from app.records.tables import LocalAuthority
from app.settings import load_settings
from tests.factories import child_details

async def main(code, given, family, born):
    settings = load_settings()
    engine = database.make_engine(settings.database)
    database.use_engine(engine)
    [authority] = await LocalAuthority.select(LocalAuthority.id).where(LocalAuthority.code == code).run()
    details = child_details(authority["id"], date_of_birth=date.fromisoformat(born))
    details = replace(details, given_name=given, family_name=family)
    await create_child(Keyring(settings.keys_dir), details)
    await database.close(engine)

asyncio.run(main(*sys.argv[1:]))
"""


def add_a_young_person(
    live_env: dict[str, str], authority_code: str, given: str, family: str, born: date
) -> None:
    """Store one more child in the live service's database, as a feed would."""
    import sys

    added = subprocess.run(
        [sys.executable, "-c", _ADD_YOUNG_PERSON, authority_code, given, family, born.isoformat()],
        env=live_env, capture_output=True, text=True, timeout=60, check=False,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
