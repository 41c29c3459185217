"""Typed factories for test data."""

from __future__ import annotations

from datetime import date

from app.records.codes import ConsentBasis, Gender, Relationship, ServiceType
from app.records.ids import row_ids
from app.records.schemas import Address, CarerDetails, ChildDetails, InvolvementDetails, PersonName
from app.records.tables import LocalAuthority


async def make_authority(code: str = "E09000001", name: str = "Northshire Council") -> int:
    authority_id = row_ids.next()
    await LocalAuthority.insert(
        LocalAuthority(
            id=authority_id,
            code=code,
            name=name,
            team_telephone="01632 960 001",
            team_email="signpost@northshire.example.org",
        )
    ).run()
    return authority_id


def child_details(
    authority_id: int,
    *,
    given_name: str = "Zoë",
    family_name: str = "O'Brien-Smith",
    date_of_birth: date = date(2014, 2, 28),
    former_names: tuple[PersonName, ...] = (),
    postcode: str = "NB12 3XY",
    telephone: str = "07700 900 417",
) -> ChildDetails:
    home = Address(lines=("Flat 2", "17 Quillfeather Lane"), town="Yarrow", postcode=postcode)
    return ChildDetails(
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        gender=Gender.female,
        address=home,
        local_authority_id=authority_id,
        source="test-feed",
        former_names=former_names,
        carers=(
            CarerDetails(
                name="Maeve Quillfeather", relationship=Relationship.mother, telephone=telephone, address=home
            ),
        ),
        involvements=(
            InvolvementDetails(
                service_name="Young People's Mental Health Service",
                service_type=ServiceType.mental_health,
                practitioner_name="Iolo Pemberton-Hart",
                role="Mental health practitioner",
                telephone="01632 960 555",
                email="iolo.pembertonhart@cypmhs.example.org",
                start_date=date(2024, 1, 10),
                lead_professional=True,
                consent_basis=ConsentBasis.child_consent,
            ),
        ),
    )
