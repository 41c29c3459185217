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
