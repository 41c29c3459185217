"""The feed format: every way a file or a row is refused, with its line and column, and that a
child written with ``to_columns`` reads back as the same child."""

from __future__ import annotations

import csv
import io
import os
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.feeds.format import (
    COLUMNS,
    FeedError,
    FeedRow,
    Place,
    Problem,
    parse_row,
    read_feed,
    to_columns,
    write_feed,
)
from app.records.codes import Gender, Relationship
from app.records.ids import new_signpost_id
from app.records.schemas import Address, CarerDetails, ChildDetails, PersonName
from app.records.validation import child_problems

TODAY = date(2026, 11, 25)
AUTHORITIES = {"E09000001": 7, "E09000002": 8}


def feed(text: str) -> list[FeedRow | list[Problem]]:
    return list(read_feed(io.StringIO(text, newline=""), source="test", authorities=AUTHORITIES, today=TODAY))


GOOD = {
    "local_authority": "E09000001",
    "given_name": "Zoë",
    "family_name": "O'Brien-Smith",
    "date_of_birth": "2014-02-28",
    "gender": "female",
    "address_line_1": "17 Quillfeather Lane",
    "town": "Yarrow",
    "postcode": "NB12 3XY",
}


def row_problems(**change: str) -> list[tuple[str, str]]:
    values = {**GOOD, **change}
    parsed = parse_row(5, values, source="test", authorities=AUTHORITIES, today=TODAY)
    assert isinstance(parsed, list), "expected the row to be refused"
    assert all(p.line == 5 for p in parsed)
    return [(p.column, p.message) for p in parsed]


def test_a_good_row_reads_as_the_child() -> None:
    parsed = parse_row(2, GOOD, source="test", authorities=AUTHORITIES, today=TODAY)
    assert isinstance(parsed, FeedRow)
    assert parsed.child.given_name == "Zoë"
    assert parsed.child.local_authority_id == 7
    assert parsed.child.address == Address(
        lines=("17 Quillfeather Lane",), town="Yarrow", postcode="NB12 3XY"
    )
    assert parsed.child.source == "test"


def test_round_trip_of_a_child_through_the_format() -> None:
    home = Address(lines=("Flat 2", "17 Quillfeather Lane"), town="Yarrow", postcode="NB12 3XY")
    child = ChildDetails(
        given_name="Zoë",
        family_name="O'Brien-Smith",
        date_of_birth=date(2014, 2, 28),
        gender=Gender.female,
        address=home,
        local_authority_id=8,
        source="test",
        former_names=(PersonName("Zoe", "Quillfeather"),),
        carers=(
            CarerDetails(
                "Maeve Quillfeather",
                Relationship.mother,
                "07700 900 417",
                Address(("1 Elm Road",), "Yarrow", "NB1 2AB"),
            ),
            CarerDetails("Tom Smith", Relationship.father, None, None),
        ),
        education_start_date=date(2018, 9, 1),
    )
    signpost_id = new_signpost_id()
    school = Place("Yarrow Primary School", "01632 960 100")
    gp = Place("Yarrow Medical Practice", "01632 960 200")
    stream = io.StringIO(newline="")
    write_feed(stream, [to_columns(child, "E09000002", education=school, gp=gp, signpost_id=signpost_id)])
    [parsed] = feed(stream.getvalue())
    assert isinstance(parsed, FeedRow)
    assert parsed.child == child
    assert (parsed.education, parsed.gp, parsed.authority_code) == (school, gp, "E09000002")
    assert parsed.signpost_id == signpost_id
    assert parsed.line == 2


def test_unknown_free_text_and_repeated_columns_reject_the_header() -> None:
    [problems] = feed("local_authority,given_name,family_name,date_of_birth,gender,notes,shoe_size,gender\n")
    assert isinstance(problems, list)
    assert [(p.line, p.column) for p in problems] == [(1, "notes"), (1, "shoe_size"), (1, "gender")]
    assert "Free-text" in problems[0].message
    assert "Unknown column" in problems[1].message
    assert "twice" in problems[2].message


def test_missing_required_columns_are_named() -> None:
    [problems] = feed("given_name,family_name\n")
    assert isinstance(problems, list)
    assert {p.column for p in problems} == {"local_authority", "date_of_birth", "gender"}


def test_a_short_line_is_refused_with_its_line_number() -> None:
    text = "local_authority,given_name,family_name,date_of_birth,gender\nE09000001,Amy,Lee\n"
    [problems] = feed(text)
    assert problems == [Problem(2, "", "Expected 5 values, found 3")]


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ({"given_name": "A" * 61}, "given_name", "Longer than 60"),
        ({"address_line_1": "x" * 101}, "address_line_1", "Longer than 100"),
        ({"given_name": "Amy\nLikes football"}, "given_name", "free text"),
        ({"given_name": "R2D2"}, "given_name", "letters"),
        ({"local_authority": "X1"}, "local_authority", "Not a local authority"),
        ({"date_of_birth": "28/02/2014"}, "date_of_birth", "YYYY-MM-DD"),
        ({"date_of_birth": "2014-02-30"}, "date_of_birth", "real date"),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth", "past"),
        ({"gender": "f"}, "gender", "female, male"),
        ({"postcode": "NOTAPC"}, "postcode", "real postcode"),
        ({"town": ""}, "town", "Enter the town"),
        ({"signpost_id": "1234"}, "signpost_id", "Not a Signpost ID"),
        ({"former_given_name": "Amy"}, "former_family_name", "both parts"),
        ({"carer_1_name": "Jo Lee"}, "carer_1_relationship", "relationship"),
        ({"carer_1_relationship": "mother"}, "carer_1_name", "carer's name"),
        (
            {"carer_1_name": "Jo Lee", "carer_1_relationship": "mother", "carer_1_telephone": "call me"},
            "carer_1_telephone",
            "telephone",
        ),
        ({"education_setting_name": "Yarrow School"}, "education_setting_telephone", "telephone"),
        ({"education_start_date": "2020-09-01"}, "education_start_date", "needs the education setting"),
        (
            {"gp_practice_name": "<script>", "gp_practice_telephone": "01632 960 200"},
            "gp_practice_name",
            "letters",
        ),
        ({"given_name": ""}, "given_name", "required"),
    ],
)
def test_each_bad_value_is_named_by_column(change: dict[str, str], column: str, words: str) -> None:
    problems = row_problems(**change)
    assert any(c == column and words in m for c, m in problems), problems


def test_every_column_has_a_bound() -> None:
    assert all(0 < length <= 120 for length in COLUMNS.values())


def test_a_file_that_is_not_csv_or_utf8_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="empty"):
        feed("")
    with pytest.raises(FeedError, match="not valid CSV"):
        feed(
            'local_authority,given_name,family_name,date_of_birth,gender\n"E09000001,"Amy"x,Lee,2014-01-01,female\n'
        )
    raw = io.TextIOWrapper(io.BytesIO(b"given_name\n\xff\xfe\n"), encoding="utf-8", newline="")
    with pytest.raises(FeedError, match="UTF-8"):
        list(read_feed(raw, source="test", authorities=AUTHORITIES, today=TODAY))


def test_blank_lines_are_skipped_and_lines_keep_their_numbers() -> None:
    header = ",".join(GOOD)
    good = ",".join(GOOD.values())
    rows = feed(f"{header}\n\n{good}\n")
    assert [r.line for r in rows if isinstance(r, FeedRow)] == [3]


# --- Fuzzing: whatever a file holds, the parser answers with rows, problems or a FeedError ------

FUZZ_CASES = int(os.environ.get("SIGNPOST_FUZZ_CASES", "200"))
HEADER = ",".join(GOOD)
CELL = st.one_of(
    st.sampled_from(list(GOOD.values())),
    st.text(max_size=130),
    st.sampled_from(
        ["", " ", '"', "\n", "\r\n", "<script>alert(1)</script>", "\x00", "2014-02-30", "Ω" * 61]
    ),
)


@st.composite
def hostile_feed(draw: st.DrawFn) -> str:
    header = draw(st.one_of(st.just(HEADER), st.text(max_size=200)))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=len(GOOD) + 2), max_size=6))
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    for row in rows:
        writer.writerow(row)
    raw = draw(st.one_of(st.just(""), st.text(max_size=60)))
    return f"{header}\n{stream.getvalue()}{raw}"


@settings(max_examples=FUZZ_CASES, deadline=None)
@given(text=hostile_feed())
def test_the_parser_never_fails_on_hostile_input(text: str) -> None:
    try:
        parsed = feed(text)
    except FeedError as error:
        message = str(error)
        parsed = []
    else:
        message = "read"
    assert message  # a FeedError always says what is wrong
    for item in parsed:
        if isinstance(item, FeedRow):
            assert child_problems(item.child, TODAY, retention=False) == []
            assert all(
                len(value) <= COLUMNS[key]
                for key, value in to_columns(item.child, item.authority_code).items()
            )
        else:
            assert item, "a refused row names at least one problem"
            assert all(p.line >= 1 and p.message for p in item)
