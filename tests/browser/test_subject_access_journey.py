"""Subject access in a real browser: a parent asks with JavaScript off, the privacy officer matches
the request, checks identity and releases the answer with a virtual security key, and the parent
reads the answer with JavaScript off and downloads it as JSON. Every page passes axe-core."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from app.subject_access.deadlines import uk_date
from tests.browser.conftest import SIGNPOST
from tests.browser.live import a_child_of_the_live_service
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
OFFICER_EMAIL = "subject.access@northshire.example.org"


def today() -> date:
    """The UK day now: the day the service counts in."""
    return uk_date(datetime.now(UTC))


def fill_date(page: Page, prefix: str, day: date) -> None:
    page.locator(f"#{prefix}-day").fill(str(day.day))
    page.locator(f"#{prefix}-month").fill(str(day.month))
    page.locator(f"#{prefix}-year").fill(str(day.year))


def open_the_answer(page: Page, reference: str, code: str, born: date) -> None:
    page.goto("/subject-access/response")
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Access code").fill(code)
    fill_date(page, "dob", born)
    page.get_by_role("button", name="Show the answer").click()


def test_a_parent_asks_the_officer_releases_and_the_parent_reads_the_answer(
    tab: Tab, cdp: CDPSession, chromium: Browser, live_server: str, live_env: dict[str, str]
) -> None:
    child = a_child_of_the_live_service(live_env)

    # The parent asks, with JavaScript off.
    citizen = chromium.new_context(base_url=live_server, java_script_enabled=False)
    parent = citizen.new_page()
    parent.goto("/")
    parent.get_by_role("link", name="Ask what Signpost holds").first.click()
    parent.get_by_role("button", name="Send request").click()  # nothing filled in
    expect(parent.locator(".govuk-error-summary")).to_contain_text("Select who you are")
    parent.get_by_label("A parent or carer with parental responsibility").check()
    parent.get_by_label("Which council area does the child live in?").select_option(
        value=str(child.authority_id)
    )
    parent.get_by_label("Given name").fill(child.given)
    parent.get_by_label("Family name").fill(child.family)
    fill_date(parent, "dob", child.born)
    parent.get_by_label("Your full name").fill("Maeve Quillfeather")
    parent.get_by_label("Address line 1").fill("17 Quillfeather Lane")
    parent.get_by_label("Town or city").fill("Yarrow")
    parent.get_by_label("Postcode", exact=True).fill("NB12 3XY")
    parent.get_by_role("button", name="Send request").click()
    expect(parent.get_by_role("heading", name="Request sent")).to_be_visible()
    reference = parent.locator(".govuk-panel strong").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", reference)

    # The privacy officer of the child's authority enrols and answers.
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Sam Officer", "--email", OFFICER_EMAIL,
         "--role", "privacy_officer", "--org", "Information governance", "--authority", child.authority_code],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    page = tab.page
    add_authenticator(cdp)
    page.goto("/enrol")
    page.get_by_label("Work email address").fill(OFFICER_EMAIL)
    page.get_by_label("Enrolment code").fill(created.stdout.strip().splitlines()[-1])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))

    page.get_by_role("link", name="Subject access").first.click()
    expect(page.get_by_role("heading", name="Subject access requests")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=reference)).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Save the match").click()  # nothing chosen
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the matching record")
    assert_accessible(tab)
    page.get_by_label(re.compile(f"{re.escape(child.given)} {re.escape(child.family)}, born")).first.check()
    page.get_by_role("button", name="Save the match").click()
    expect(page.get_by_text("Signpost ID", exact=True)).to_be_visible()
    page.get_by_label("Identity documents seen in person").check()
    fill_date(page, "checked", today())
    page.get_by_role("button", name="Save the identity check").click()
    if page.locator("#competent").count():  # a child of 12 or over
        page.locator("#competent").check()
        page.locator("#agrees").check()
        page.get_by_role("button", name="Save the child's view").click()
    assert_accessible(tab)
    page.get_by_role("button", name="Release the answer").click()  # the key was touched minutes ago
    expect(page.get_by_role("heading", name="Print and post this letter")).to_be_visible()
    assert_accessible(tab)
    code = page.locator("strong.govuk-\\!-font-size-24").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)

    # The parent reads the answer, with JavaScript off, and downloads it.
    open_the_answer(parent, reference, "AAAA-BBBB-CCCC-DDDD", child.born)
    expect(parent.locator(".govuk-error-summary")).to_contain_text("is not right")
    open_the_answer(parent, reference, code, child.born)
    expect(parent.get_by_role("heading", name="Your subject access answer")).to_be_visible()
    expect(parent.get_by_text(f"{child.given} {child.family}", exact=True)).to_be_visible()
    expect(parent.get_by_role("heading", name="Who has looked at the record")).to_be_visible()
    expect(parent.get_by_role("cell", name="Subject access request matched to the record")).to_be_visible()
    expect(parent.get_by_role("cell", name="Sam Officer")).to_have_count(0)  # never a person's name
    with parent.expect_download() as download:
        parent.get_by_role("button", name="Download as a data file (JSON)").click()
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert (document["record"]["given_name"], document["record"]["family_name"]) == (
        child.given,
        child.family,
    )
    assert "Subject access request matched to the record" in [r["action"] for r in document["recipients"]]
    citizen.close()

    # The same public pages with JavaScript on are accessible too.
    open_the_answer(page, reference, "AAAA-BBBB-CCCC-DDDD", child.born)
    assert_accessible(tab)
    open_the_answer(page, reference, code, child.born)
    expect(page.get_by_role("heading", name="Your subject access answer")).to_be_visible()
    expect(page.get_by_role("button", name="Print this page")).to_be_visible()  # JavaScript shows it
    assert_accessible(tab)
    page.goto("/subject-access")
    assert_accessible(tab)
    page.goto("/transparency")
    this_month = page.get_by_role("row", name=re.compile(today().strftime("%B %Y")))
    expect(this_month.get_by_role("cell").nth(0)).to_have_text("1")  # received: this test's one request
    assert_accessible(tab)

    verified = subprocess.run(
        [SIGNPOST, "audit", "verify"], env=live_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert verified.returncode == 0, verified.stderr
