"""Synthetic data: deterministic for a seed, varied like a real population, encrypted at rest."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import pytest

from app import database
from app.crypto.keyring import Keyring
from app.records.codes import SENSITIVE_SERVICES, Gender
from app.records.normalise import normalise_name
from app.records.schemas import ChildDetails
from app.records.service import load_child
from app.records.tables import Child
from app.settings import DatabaseUrl
from tests.conftest import env_for
from tests.integration.test_cli import signpost

AS_OF = "2026-11-24"


async def seeded_children(data_dir: Path) -> list[ChildDetails]:
    engine = database.make_engine(DatabaseUrl(kind="sqlite", sqlite_path=data_dir / "signpost.sqlite3"))
    database.use_engine(engine)
    keyring = Keyring(data_dir / "keys")
    try:  # closed, or its reader's thread keeps the test process from exiting
        ids = [r["id"] for r in await Child.select(Child.id).order_by(Child.signpost_id).run()]
        return [(await load_child(keyring, child_id)).details for child_id in ids]
    finally:
        await database.close(engine)


def seed(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = env_for(data_dir)
    assert signpost("migrate", env=env).returncode == 0
    return signpost("seed", "--as-of", AS_OF, "--no-progress", *args, env=env)


async def test_the_same_seed_gives_the_same_children(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for where in (first, second):
        result = seed(where, "--children", "300", "--seed", "7", "--workers", "2", "--batch-size", "64")
        assert result.returncode == 0, result.stderr
        assert "Seeded 300 children" in result.stdout
    a = await seeded_children(first)
    b = await seeded_children(second)
    assert len(a) == 300
    strip = [(c.given_name, c.family_name, c.date_of_birth, c.address, c.carers, c.involvements) for c in a]
    assert strip == [
        (c.given_name, c.family_name, c.date_of_birth, c.address, c.carers, c.involvements) for c in b
    ]
    other = tmp_path / "c"
    assert seed(other, "--children", "300", "--seed", "8").returncode == 0
    assert {c.family_name for c in await seeded_children(other)} != {c.family_name for c in a} or [
        c.date_of_birth for c in await seeded_children(other)
    ] != [c.date_of_birth for c in a]


async def test_seeded_children_are_varied_and_plausible(tmp_path: Path) -> None:
    assert seed(tmp_path, "--children", "3000", "--seed", "3").returncode == 0
    children = await seeded_children(tmp_path)
    assert len(children) == 3000
    family = [c.family_name for c in children]
    assert any("-" in n for n in family), "hyphenated family names"
    assert any("'" in n for n in family), "apostrophes"
    assert any(
        normalise_name(n) != n.lower().replace(" ", "") for n in family + [c.given_name for c in children]
    ), "accents"
    ages = [(date.fromisoformat(AS_OF) - c.date_of_birth).days / 365.25 for c in children]
    assert min(ages) >= 0
    assert max(ages) < 18
    assert min(ages) < 1
    assert max(ages) > 16
    assert {c.gender for c in children} >= {Gender.female, Gender.male, Gender.not_specified}
    assert any(c.shielded for c in children) or len(children) < 1000
    assert any(
        i.service_type in SENSITIVE_SERVICES and i.consent_basis for c in children for i in c.involvements
    )
    assert {len(c.involvements) for c in children} == {0, 1, 2, 3, 4}
    assert any(c.former_names for c in children)
    assert any(c.address is None for c in children)
    schools = {c.education_setting_id for c in children if c.education_setting_id}
    assert 1 < len(schools) < len(children) / 50, "schools are shared by many children"


def test_seeding_reuses_an_authority_an_operator_made_by_name(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    made = signpost(
        "users", "create", "--name", "Priya Officer", "--email", "priya@northshire.example.org",
        "--role", "privacy_officer", "--org", "Information governance", "--authority", "Northshire Council",
        env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert seed(tmp_path, "--children", "30", "--seed", "3").returncode == 0
    with sqlite3.connect(tmp_path / "signpost.sqlite3") as db:
        northshire = db.execute("SELECT id FROM local_authority WHERE name = 'Northshire Council'").fetchall()
        children = db.execute(
            "SELECT count(*) FROM child WHERE local_authority = ?", (northshire[0][0],)
        ).fetchone()[0]
    assert len(northshire) == 1  # one authority of that name, holding seeded children
    assert children > 0


async def test_seeding_twice_with_the_same_seed_is_refused_cleanly(tmp_path: Path) -> None:
    assert seed(tmp_path, "--children", "20", "--seed", "5").returncode == 0
    again = seed(tmp_path, "--children", "20", "--seed", "5")
    assert again.returncode == 1
    assert "already" in again.stderr
    assert "Traceback" not in again.stderr


async def test_a_bulk_load_builds_its_deferred_indexes_and_an_interrupted_one_is_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.seed import service as seeding

    env = env_for(tmp_path)
    assert signpost("migrate", env=env).returncode == 0
    path = tmp_path / "signpost.sqlite3"
    engine = database.make_engine(DatabaseUrl(kind="sqlite", sqlite_path=path))
    database.use_engine(engine)
    Keyring(tmp_path / "keys", create=True)
    try:  # closed, or its reader's thread keeps the test process from exiting
        contexts = await seeding.ensure_authorities(4, 1, 500)
    finally:
        await database.close(engine)
    plan = seeding.make_plan(tmp_path / "keys", contexts, date(2026, 11, 24), source="synthetic")
    monkeypatch.setattr(seeding, "DEFER_INDEXES_FROM", 100)
    dropped: list[list[str]] = []
    real_defer = seeding.SqliteWriter.defer_indexes

    def spy(writer: seeding.SqliteWriter) -> list[str]:
        dropped.append(real_defer(writer))
        return dropped[-1]

    monkeypatch.setattr(seeding.SqliteWriter, "defer_indexes", spy)
    result = seeding.seed_children(
        DatabaseUrl(kind="sqlite", sqlite_path=path), plan, seed=4, children=500, batch_size=100, workers=2
    )
    assert result.children == 500
    deferred = {
        "child_bidx_name_dob",
        "child_bidx_given_dob",
        "child_bidx_turns_18_id",
        "former_name_bidx_name_dob",
        "child_signpost_id",
    }  # the blind indexes (the month of turning 18 with the ID) and the ID's unique index
    assert len(dropped[0]) == len(deferred)
    assert set(index_names(path)) >= deferred

    with sqlite3.connect(path) as connection:  # as if killed before the indexes were rebuilt
        connection.execute("DROP INDEX child_bidx_name_dob")
        connection.execute("DROP INDEX child_signpost_id")
    assert "child_bidx_name_dob" not in index_names(path)
    assert signpost("migrate", env=env).returncode == 0
    assert {"child_bidx_name_dob", "child_signpost_id"} <= set(index_names(path))


def index_names(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
