"""The consent receipt: the fields of a Kantara Initiative Consent Receipt v1.1, which ISO/IEC TS
27560 builds on, filled from Signpost's own record of the consent. The same fields make the
readable receipt page and the JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.records.codes import ServiceType
from app.records.tables import Involvement, LocalAuthority

COLLECTION_METHOD = (
    "Signpost's young person's page (/your-record), opened with the one-time code from the invitation "
    "letter and the young person's date of birth; the choice was confirmed on a second page before it counted"
)
PURPOSE = (
    "Keep your Signpost record after your 18th birthday so that the people supporting you (for example a "
    "leaving-care personal adviser) can find out who else is working with you and how to reach them"
)
DATA_CATEGORIES = (
    "Name, and any former names",
    "Date of birth and gender",
    "Address",
    "Parents' and carers' names, telephone numbers and addresses",
    "Your school or college and GP practice",
    "Services working with you, and how to contact the person at each",
)
THIRD_PARTIES = (
    "Practitioners in education, health and social care who search with your exact details see your name, "
    "date of birth and who else is working with you; the police only through a request someone else approves"
)
WITHDRAWAL = (
    "Go to /your-record/change and enter the withdrawal code on this receipt and your date of birth. You "
    "can withdraw your consent or choose an earlier date. If you withdraw when you are 18 or over, your "
    "record is deleted within a day; before then, it is deleted on your 18th birthday."
)


#: Services whose mere involvement is special-category or criminal-offence data, and the
#: category each reveals (UK GDPR Art. 9 and 10).
SPECIAL_CATEGORIES: dict[ServiceType, str] = {
    ServiceType.gp: "Health",
    ServiceType.health_visiting: "Health",
    ServiceType.school_nursing: "Health",
    ServiceType.mental_health: "Health",
    ServiceType.sexual_health: "Health and sex life",
    ServiceType.substance_misuse: "Health",
    ServiceType.youth_justice: "Criminal offence data",
}


@dataclass(frozen=True, slots=True)
class ReceiptView:
    receipt_id: str
    given_at: datetime
    keep_until: date
    signpost_id: str
    controller: str
    telephone: str
    email: str
    withdrawal_code: str | None  # shown only when the young person has it to hand
    special: tuple[str, ...] = ()  # special categories the record reveals, from its services


async def view(
    row: dict[str, Any], signpost_id: str, authority_id: int, withdrawal_code: str | None
) -> ReceiptView:
    authority = (await LocalAuthority.select().where(LocalAuthority.id == authority_id).run())[0]
    services = (
        await Involvement.select(Involvement.service_type).where(Involvement.child == row["child"]).run()
    )
    types = {ServiceType(s["service_type"]) for s in services}
    return ReceiptView(
        special=tuple(sorted({SPECIAL_CATEGORIES[t] for t in types if t in SPECIAL_CATEGORIES})),
        receipt_id=row["receipt_id"],
        given_at=row["given_at"],
        keep_until=row["keep_until"],
        signpost_id=signpost_id,
        controller=authority["name"],
        telephone=authority["team_telephone"],
        email=authority["team_email"],
        withdrawal_code=withdrawal_code,
    )


def document(receipt: ReceiptView, origin: str) -> dict[str, Any]:
    """The receipt as a Kantara Consent Receipt v1.1 JSON document."""
    given = receipt.given_at.astimezone(UTC)
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "GB",
        "consentTimestamp": int(given.timestamp()),
        "consentTime": given.isoformat(),
        "collectionMethod": COLLECTION_METHOD,
        "consentReceiptID": receipt.receipt_id,
        "language": "en",
        "piiPrincipalId": receipt.signpost_id,
        "piiControllers": [
            {
                "piiController": receipt.controller,
                "onBehalf": False,
                "contact": f"{receipt.controller} Signpost team",
                "address": receipt.controller,
                "email": receipt.email,
                "phone": receipt.telephone,
                "piiControllerUrl": origin,
            }
        ],
        "policyUrl": f"{origin}/your-record",
        "services": [
            {
                "service": "Signpost",
                "purposes": [
                    {
                        "purpose": PURPOSE,
                        "purposeCategory": ["Care leavers' and young adults' support"],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(DATA_CATEGORIES),
                        "primaryPurpose": True,
                        "termination": (
                            f"Your record is deleted on {receipt.keep_until.isoformat()}, or within a day of "
                            "withdrawing your consent, whichever comes first"
                        ),
                        "terminationDate": receipt.keep_until.isoformat(),
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": THIRD_PARTIES,
                    }
                ],
            }
        ],
        "sensitive": bool(receipt.special),
        "spiCat": list(receipt.special),
        "withdrawal": {
            "method": WITHDRAWAL,
            "url": f"{origin}/your-record/change",
            **({"code": receipt.withdrawal_code} if receipt.withdrawal_code else {}),
        },
    }
