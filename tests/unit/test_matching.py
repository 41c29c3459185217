"""Matching rules: edit distance, name likeness, and the decision for each kind of candidate."""

from __future__ import annotations

from datetime import date

import pytest

from app.feeds.matching import (
    Candidate,
    Decision,
    Incoming,
    Likeness,
    decide,
    decide_by_signpost_id,
    edit_distance,
    held_elsewhere,
    likeness,
)
from app.records.codes import Gender

BORN = date(2014, 2, 28)


def row(
    given: str = "zoe", family: str = "obriensmith", postcode: str | None = "NB123XY", **kw: object
) -> Incoming:
    return Incoming(
        given_names=(given,),
        family_names=(family,),
        date_of_birth=kw.get("born", BORN),  # type: ignore[arg-type]
        gender=kw.get("gender", Gender.female),  # type: ignore[arg-type]
        postcode=postcode,
    )


def record(
    child_id: int = 1,
    given: str = "zoe",
    family: str = "obriensmith",
    *,
    shielded: bool = False,
    postcode: str | None = "NB123XY",
    born: date = BORN,
    formers: tuple[str, ...] = (),
    carers: tuple[str, ...] = (),
) -> Candidate:
    return Candidate(
        child_id=child_id,
        authority_id=1,
        shielded=shielded,
        given_names=(given,),
        family_names=(family, *formers),
        date_of_birth=born,
        gender=Gender.female,
        postcode=postcode,
        carers=carers,
    )


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("smith", "smith", 0),
        ("smith", "smyth", 1),
        ("smith", "msith", 1),
        ("smith", "smiths", 1),
        ("", "abc", 3),
        ("roberts", "roebrts", 1),
        ("ann", "anna", 1),
        ("kowalski", "smith", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_likeness_is_stricter_for_short_names() -> None:
    assert likeness("amy", "amy") == Likeness.same
    assert likeness("amy", "ami") == Likeness.close
    assert likeness("amy", "eve") == Likeness.different
    assert likeness("roberts", "robrets") == Likeness.close
    assert likeness("roberts", "rbetrs") == Likeness.close  # two letters apart
    assert likeness("roberts", "richards") == Likeness.different


def test_one_exact_candidate_is_updated() -> None:
    decision = decide(row(), [record(7)])
    assert (decision.kind, decision.child_id) == ("update", 7)
    moved = row(postcode="ZZ11ZZ")
    moved.carers = ("maevequillfeather",)
    decision = decide(moved, [record(7, carers=("maevequillfeather",))])  # a new home, the same mother
    assert (decision.kind, decision.child_id) == ("update", 7)


def test_the_same_names_and_birthday_alone_are_not_the_same_child() -> None:
    other = row(postcode="ZZ11ZZ")
    other.carers = ("jofreeman",)
    decision = decide(other, [record(7, carers=("maevequillfeather",))])
    assert (decision.kind, decision.candidates, decision.why) == ("review", (7,), "uncertain")
    nothing_else = row(postcode=None)  # a row with no address and no carers: nothing to tell them apart
    assert decide(nothing_else, [record(7)]).kind == "update"


def test_no_candidate_creates() -> None:
    assert decide(row(), []).kind == "create"
    assert decide(row(), [record(born=date(2014, 3, 1))]).kind == "create"


def test_a_twin_with_another_given_name_is_not_a_candidate() -> None:
    assert decide(row(given="zoe"), [record(given="isabella")]).kind == "create"


def test_a_typo_goes_to_review_never_to_a_new_record() -> None:
    decision = decide(row(family="obreinsmith"), [record(3)])
    assert (decision.kind, decision.candidates, decision.why) == ("review", (3,), "uncertain")


def test_two_exact_candidates_go_to_review() -> None:
    decision = decide(row(), [record(3), record(4)])
    assert (decision.kind, decision.candidates, decision.why) == ("review", (3, 4), "several")


def test_a_former_name_matches_exactly() -> None:
    decision = decide(row(family="quillfeather"), [record(5, formers=("quillfeather",))])
    assert (decision.kind, decision.child_id) == ("update", 5)


def test_a_new_surname_at_the_same_address_is_uncertain() -> None:
    assert decide(row(family="jones"), [record(6)]).kind == "review"
    assert decide(row(family="jones", postcode="ZZ11ZZ"), [record(6)]).kind == "create"


@pytest.mark.parametrize(
    "incoming",
    [
        row(family="jones", postcode="ZZ11ZZ"),  # new surname, new address
        row(given="zeo", family="jones", postcode=None),  # typo and new surname
        row(given="isabella", family="obriensmith", postcode="ZZ11ZZ"),  # new given name
        row(given="isabella", family="jones", postcode="NB123XY"),  # same address only
    ],
)
def test_anything_alike_a_shielded_record_goes_to_review(incoming: Incoming) -> None:
    decision = decide(incoming, [record(9, shielded=True)])
    assert (decision.kind, decision.why) == ("review", "shielded")


def test_a_shielded_record_matched_exactly_is_updated() -> None:
    decision = decide(row(), [record(9, shielded=True)])
    assert (decision.kind, decision.child_id, decision.shielded) == ("update", 9, True)


def test_a_signpost_id_updates_only_an_exact_match() -> None:
    assert decide_by_signpost_id(row(postcode="ZZ11ZZ"), record(4), []).kind == "update"
    renamed = decide_by_signpost_id(row(family="jones"), record(4), [])
    assert (renamed.kind, renamed.candidates, renamed.why) == ("review", (4,), "signpost_id")
    assert decide_by_signpost_id(row(), record(4, born=date(2015, 1, 1)), []).why == "signpost_id"
    assert decide_by_signpost_id(row(), None, []).candidates == ()


def test_a_signpost_id_never_hides_a_shielded_child() -> None:
    decision = decide_by_signpost_id(row(family="jones"), None, [record(9, shielded=True)])
    assert (decision.kind, decision.candidates, decision.why) == ("review", (9,), "shielded")
    beside = decide_by_signpost_id(row(family="jones"), record(4, family="x"), [record(9, shielded=True)])
    assert beside.candidates == (9, 4)  # shielded first


def test_a_move_of_a_shielded_record_or_on_the_upload_page_is_reviewed() -> None:
    update = decide(row(), [record(7)])
    moving = Decision("update", 7, shielded=False, authority_id=2)
    assert held_elsewhere(update, 1, uploaded=True) == update  # held by the row's own authority
    assert held_elsewhere(moving, 1, uploaded=False) == moving  # the operator's feed moves it
    assert held_elsewhere(moving, 1, uploaded=True).why == "other_authority"
    shielded = Decision("update", 7, shielded=True, authority_id=2)
    assert (
        held_elsewhere(shielded, 1, uploaded=False).kind,
        held_elsewhere(shielded, 1, uploaded=False).why,
    ) == (
        "review",
        "shielded",
    )
