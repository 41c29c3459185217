"""``signpost demo-feed``: a feed for one demo authority, made from the demo data, that shows
every path of the importer when loaded: address changes (updates), unchanged rows, a family
name with a typo and a shielded child under a new surname at a new address (both queued for
review, never a second record), and children Signpost has not seen (created)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from msgspec.structs import replace

from app.consent.dates import eighteenth_birthday, uk_date
from app.crypto.keyring import Keyring
from app.feeds.format import Place, to_columns, write_feed
from app.records.codes import Gender, Relationship
from app.records.schemas import Address, CarerDetails, ChildDetails
from app.records.service import load_child
from app.records.tables import Child, EducationSetting, GpPractice, LocalAuthority
from app.seed import names


class DemoFeedError(Exception):
    pass


def _typo(name: str, rng: random.Random) -> str:
    """The name with two different neighbouring letters swapped (or its last letter doubled)."""
    swappable = [i for i in range(1, len(name) - 1) if name[i] != name[i + 1]]
    if len(name) < 4 or not swappable:
        return name + name[-1]
    i = rng.choice(swappable)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _new_address(rng: random.Random, old: Address | None, town: str) -> Address:
    area = "".join(ch for ch in (old.postcode if old else "NS1 1AA").split()[0] if ch.isalpha()) or "NS"
    street = f"{rng.randint(1, 240)} {rng.choice(names.STREET_STEMS)} {rng.choice(names.STREET_KINDS)}"
    letters = "".join(rng.choice("ABDEFGHJLNPQRSTUWXYZ") for _ in range(2))
    return Address(
        lines=(street,), town=town, postcode=f"{area}{rng.randint(1, 30)} {rng.randint(0, 9)}{letters}"
    )


async def write_demo_feed(
    keyring: Keyring, path: Path, *, authority: str | None, rows: int, seed: int
) -> str:
    rng = random.Random(f"signpost-demo-feed:{seed}")  # noqa: S311  (demo data, not secrets)
    today = uk_date(datetime.now(UTC))
    query = LocalAuthority.select().order_by(LocalAuthority.id)
    authorities = await query.run()
    if authority is not None:
        wanted = authority.casefold()
        authorities = [
            a for a in authorities if wanted in (str(a["code"]).casefold(), str(a["name"]).casefold())
        ]
    if not authorities:
        raise DemoFeedError("no such local authority: run 'signpost seed' first, or name one it made")
    la = authorities[0]
    schools = await EducationSetting.select().where(EducationSetting.local_authority == la["id"]).run()
    practices = await GpPractice.select().where(GpPractice.local_authority == la["id"]).run()
    place_of = {("school", s["id"]): Place(s["name"], s["telephone"]) for s in schools}
    place_of |= {("gp", g["id"]): Place(g["name"], g["telephone"]) for g in practices}

    existing = (
        await Child.select(Child.id)
        .where((Child.local_authority == la["id"]) & (Child.shielded == False))  # noqa: E712
        .order_by(Child.id)
        .limit(max(rows * 2, 50))
        .run()
    )
    existing += (
        await Child.select(Child.id)
        .where((Child.local_authority == la["id"]) & (Child.shielded == True))  # noqa: E712
        .order_by(Child.id)
        .limit(5)
        .run()
    )
    records = [await load_child(keyring, int(r["id"])) for r in existing]
    records = [
        r for r in records if eighteenth_birthday(r.details.date_of_birth) > today + timedelta(days=60)
    ]
    shielded = [r for r in records if r.details.shielded]
    plain = [r for r in records if not r.details.shielded]
    towns = sorted({r.details.address.town for r in plain if r.details.address is not None}) or ["Northtown"]

    def row(child: ChildDetails) -> dict[str, str]:
        education = place_of.get(("school", child.education_setting_id or 0))
        gp = place_of.get(("gp", child.gp_practice_id or 0))
        return to_columns(
            replace(child, education_start_date=child.education_start_date if education else None),
            str(la["code"]),
            education=education,
            gp=gp,
        )

    out: list[dict[str, str]] = []
    if shielded:  # a shielded child moves to a refuge under a new surname
        child = shielded[0].details
        out.append(
            row(
                replace(
                    child,
                    family_name=rng.choice([n for n in names.FAMILY_NAMES[:50] if n != child.family_name]),
                    address=_new_address(rng, child.address, rng.choice(towns)),
                    carers=(),
                )
            )
        )
    if plain:  # a typo in a family name
        child = plain[0].details
        out.append(row(replace(child, family_name=_typo(child.family_name, rng))))
    for record in plain[1 : max(1, rows // 2)]:  # moves house, or stays
        child = record.details
        if rng.random() < 0.7:
            child = replace(child, address=_new_address(rng, child.address, rng.choice(towns)))
        out.append(row(child))
    while len(out) < rows:  # new to Signpost
        gender = rng.choice([Gender.female, Gender.male])
        given = rng.choice(names.GIVEN_NAMES_FEMALE if gender is Gender.female else names.GIVEN_NAMES_MALE)
        family = rng.choice(names.FAMILY_NAMES[:200])
        born = today - timedelta(days=rng.randint(30, 16 * 365))
        address = _new_address(rng, None, rng.choice(towns))
        child = ChildDetails(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            gender=gender,
            address=address,
            local_authority_id=int(la["id"]),
            source="demo",
            carers=(
                CarerDetails(
                    name=f"{rng.choice(names.GIVEN_NAMES_FEMALE)} {family}",
                    relationship=Relationship.mother,
                    telephone=f"07700 900 {rng.randint(0, 999):03d}",
                    address=address,
                ),
            ),
            gp_practice_id=int(practices[0]["id"]) if practices else None,
        )
        out.append(row(child))
    out = out[:rows]
    rng.shuffle(out)
    with path.open("w", encoding="utf-8", newline="") as stream:
        count = write_feed(stream, out)
    return f"{count} row(s) for {la['name']} ({la['code']})"
