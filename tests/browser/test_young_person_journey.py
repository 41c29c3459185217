"""The young person's decision in a real browser. The authority's Signpost team prints the
invitation letters (signed in with a virtual security key); one young person keeps their record
and later withdraws, another has it deleted at 18, with JavaScript on and off. Keeping and
deleting take the same number of steps, nothing is pre-selected, and every page passes axe-core."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from app.consent.dates import eighteenth_birthday
from app.subject_access.deadlines import add_months, uk_date
from tests.browser.conftest import SIGNPOST
from tests.browser.live import a_child_of_the_live_service, add_a_young_person
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
TEAM_EMAIL = "signpost.team@northshire.example.org"


def fill_date(page: Page, prefix: str, day: date) -> None:
    page.locator(f"#{prefix}-day").fill(str(day.day))
    page.locator(f"#{prefix}-month").fill(str(day.month))
    page.locator(f"#{prefix}-year").fill(str(day.year))


def checked(page: Page) -> list[bool]:
    return [page.locator(".govuk-radios__input").nth(i).is_checked() for i in range(2)]


def answers(live_env: dict[str, str]) -> int:
    """How many young people's answers have counted, read from the live service's database."""
    with sqlite3.connect(Path(live_env["SIGNPOST_DATA_DIR"]) / "signpost.sqlite3") as database:
        row = database.execute(
            "SELECT COUNT(*) FROM consent_invitation WHERE answered_at IS NOT NULL"
        ).fetchone()
    return int(row[0])


def decide(
    page: Page,
    live_env: dict[str, str],
    code: str,
    born: date,
    choice: str,
    keep_until: date | None,
    tab: Tab | None,
) -> int:
    """From the start page to the answer: the number of form submissions before the answer
    counted (checked in the database after each one)."""
    before = answers(live_env)
    steps = 0
    page.goto("/your-record")
    if tab:
        assert_accessible(tab)
    page.get_by_label("Consent code").fill(code)
    fill_date(page, "dob", born)
    page.get_by_role("button", name="Continue").click()
    steps += 1
    expect(page.get_by_role("heading", name="Your Signpost record")).to_be_visible()
    assert answers(live_env) == before
    assert checked(page) == [False, False]  # neither choice pre-selected
    if tab:
        assert_accessible(tab)
    page.get_by_label(choice).check()
    if keep_until:
        fill_date(page, "until", keep_until)
    page.get_by_role("button", name="Continue").click()
    steps += 1
    expect(page.get_by_role("heading", name="Check your choice")).to_be_visible()
    assert answers(live_env) == before
    if tab:
        assert_accessible(tab)
    page.get_by_role("button", name="Confirm my choice").click()
    steps += 1
    expect(page.get_by_role("heading", name=re.compile("We will"))).to_be_visible()
    assert answers(live_env) == before + 1  # this step, and no earlier one, counted
    return steps


def test_young_people_decide_keep_and_delete_in_the_same_steps_and_change_their_minds(
    tab: Tab, cdp: CDPSession, chromium: Browser, live_server: str, live_env: dict[str, str]
) -> None:
    today = uk_date(datetime.now(UTC))
    seeded = a_child_of_the_live_service(live_env)
    keeper_born = add_months(today, -(17 * 12 + 7))  # 17 and 7 months: invited, not yet 18
    leaver_born = add_months(today, -(17 * 12 + 8))
    add_a_young_person(live_env, seeded.authority_code, "Keira", "Lindqvist", keeper_born)
    add_a_young_person(live_env, seeded.authority_code, "Dara", "Okonkwo", leaver_born)
    ran = subprocess.run(
        [SIGNPOST, "retention", "run"], env=live_env, capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"invited [1-9]\d* young people", ran.stdout), ran.stdout

    # The authority's Signpost team prints the letters.
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Sam Team", "--email", TEAM_EMAIL, "--role", "la_admin",
         "--org", "Children's services", "--authority", seeded.authority_code],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    page = tab.page
    add_authenticator(cdp)
    page.goto("/enrol")
    page.get_by_label("Work email address").fill(TEAM_EMAIL)
    page.get_by_label("Enrolment code").fill(created.stdout.strip().splitlines()[-1])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))
    page.goto("/home")
    page.get_by_role("link", name="Invitation letters for young people turning 18").click()
    expect(page.get_by_role("heading", name="Invitation letters")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Print letters").click()
    expect(page.get_by_role("heading", name="Print invitation letters")).to_be_visible()
    assert_accessible(tab)
    codes = {}
    for name in ("Keira", "Dara"):
        letter = page.locator("article.signpost-letter", has_text=f"Dear {name},")
        expect(letter).to_have_count(1)
        codes[name] = letter.locator("p.govuk-body-l strong").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){5}", codes[name])
    page.get_by_role("button", name="I have printed these letters: mark them sent").click()
    expect(page.get_by_text("No letters are waiting to be printed.")).to_be_visible()

    # Keira keeps her record, with JavaScript on (every page checked by axe-core).
    young = chromium.new_context(base_url=live_server)
    keira_page = young.new_page()
    keira = Tab(keira_page)
    keira_page.on("console", lambda message: keira.console.append(message.text))
    keep_until = add_months(eighteenth_birthday(keeper_born), 24)
    keep_steps = decide(
        keira_page,
        live_env,
        codes["Keira"],
        keeper_born,
        "Keep my record until a date I choose",
        keep_until,
        keira,
    )
    expect(
        keira_page.get_by_role("heading", name=re.compile("We will keep your record until"))
    ).to_be_visible()
    assert_accessible(keira)
    withdrawal = keira_page.locator("p.govuk-body-l strong").inner_text()
    with keira_page.expect_download() as download:
        keira_page.get_by_role("button", name="Download the receipt (JSON)").click()
    receipt = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert receipt["services"][0]["purposes"][0]["terminationDate"] == keep_until.isoformat()
    assert receipt["withdrawal"]["code"] == withdrawal

    # Dara has hers deleted at 18, with JavaScript off.
    plain = chromium.new_context(base_url=live_server, java_script_enabled=False)
    dara_page = plain.new_page()
    delete_steps = decide(
        dara_page, live_env, codes["Dara"], leaver_born, "Delete my record when I turn 18", None, None
    )
    eighteenth = eighteenth_birthday(leaver_born)
    expect(
        dara_page.get_by_role(
            "heading", name=f"We will delete your record on {eighteenth.day} {eighteenth:%B %Y}"
        )
    ).to_be_visible()
    assert keep_steps == delete_steps == 3
    plain.close()

    # Keira changes her mind: withdrawing takes no more steps than consenting did.
    keira_page.goto("/your-record/change")
    assert_accessible(keira)
    keira_page.get_by_label("Withdrawal code").fill(withdrawal)
    fill_date(keira_page, "dob", keeper_born)
    keira_page.get_by_role("button", name="Continue").click()
    expect(
        keira_page.get_by_role("heading", name="Change your mind about keeping your record")
    ).to_be_visible()
    assert_accessible(keira)
    keira_page.get_by_role("button", name="Continue").click()  # nothing chosen
    expect(keira_page.locator(".govuk-error-summary")).to_contain_text("Choose what you want to happen")
    assert_accessible(keira)
    keira_page.get_by_label("Withdraw my consent and delete my record when I turn 18").check()
    keira_page.get_by_role("button", name="Continue").click()
    expect(keira_page.get_by_role("heading", name="Check your choice")).to_be_visible()
    keira_page.get_by_role("button", name="Confirm my choice").click()
    expect(
        keira_page.get_by_role("heading", name=re.compile("We will delete your record on"))
    ).to_be_visible()
    assert_accessible(keira)
    young.close()

    verified = subprocess.run(
        [SIGNPOST, "audit", "verify"], env=live_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert verified.returncode == 0, verified.stderr
