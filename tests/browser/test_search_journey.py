"""A practitioner finds a child in a real browser, opens the record with a reason and records
their involvement: with htmx (the results swap in place) and with JavaScript off (the same forms
post and whole pages come back); every page accessible."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest
from playwright.sync_api import CDPSession, Page, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.live import a_child_of_the_live_service
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
EMAIL = "searching.practitioner@riverside.example.org"


def a_seeded_child(live_env: dict[str, str]) -> tuple[str, str, date]:
    """One unshielded child of the live service: names and birth date."""
    child = a_child_of_the_live_service(live_env)
    return child.given, child.family, child.born


def fill_search(page: Page, given: str, family: str, born: date) -> None:
    page.get_by_label("Family name").fill(family)
    page.get_by_label("Day").fill(str(born.day))
    page.get_by_label("Month").fill(str(born.month))
    page.get_by_label("Year").fill(str(born.year))
    page.get_by_label("Given name").fill(given)
    page.get_by_role("button", name="Search").click()


def test_a_practitioner_finds_a_child_with_and_without_javascript(
    tab: Tab, cdp: CDPSession, live_server: str, live_env: dict[str, str]
) -> None:
    given, family, born = a_seeded_child(live_env)
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Sam Practitioner", "--email", EMAIL,
         "--role", "practitioner", "--org", "Riverside Primary School", "--authority", "Northshire Council"],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    page = tab.page
    add_authenticator(cdp)
    page.goto("/enrol")
    page.get_by_label("Work email address").fill(EMAIL)
    page.get_by_label("Enrolment code").fill(created.stdout.strip().splitlines()[-1])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))

    page.get_by_role("link", name="Find a child").first.click()
    expect(page.get_by_role("heading", name="Find a child")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Search").click()  # nothing entered: the errors, in place
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the child's family name")
    assert_accessible(tab)
    fill_search(page, given, family, born)
    expect(page.get_by_role("heading", name=re.compile(r"1 child matches|children match"))).to_be_visible()
    expect(page.get_by_role("cell", name=f"{given} {family}").first).to_be_visible()
    expect(page).to_have_url(re.compile("/search$"))  # no terms in the address
    assert_accessible(tab)
    expect(page.locator(".govuk-error-summary")).to_have_count(0)
    fill_search(page, "Nobodyofthatname", family, born)  # from an error-free form: the results alone
    expect(page.get_by_role("heading", name="No children match")).to_be_visible()
    expect(page.get_by_label("Given name")).to_have_value("Nobodyofthatname")  # the form as typed
    assert_accessible(tab)
    fill_search(page, given, family, born)
    expect(page.get_by_role("cell", name=f"{given} {family}").first).to_be_visible()

    # Open the record with a reason, then record involvement.
    page.get_by_role("link", name=re.compile(f"Open record of {given} {family}")).first.click()
    expect(page.get_by_role("group", name="Why are you opening this record?")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Open record").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select why you are opening this record")
    assert_accessible(tab)
    page.get_by_label("New to my caseload").check()
    page.get_by_role("button", name="Open record").click()
    expect(page.get_by_role("heading", name=f"{given} {family}", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Parents and carers")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("link", name="Record your involvement").click()
    assert_accessible(tab)
    page.get_by_role("button", name="Record involvement").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the service")
    assert_accessible(tab)
    page.get_by_label("Service", exact=True).fill("Riverside Primary School")
    page.get_by_label("Type of service").select_option("education")
    page.get_by_label("Your role").fill("Class teacher")
    page.get_by_label("Contact telephone").fill("01632 960 123")
    page.get_by_label("Day").fill("1")
    page.get_by_label("Month").fill("9")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Record involvement").click()
    expect(page.get_by_role("heading", name="Involvement recorded")).to_be_visible()
    assert_accessible(tab)

    # The same search with JavaScript off: a plain form post and a whole page back.
    context = page.context.browser.new_context(base_url=live_server, java_script_enabled=False)  # type: ignore[union-attr]
    context.add_cookies(page.context.cookies())  # type: ignore[arg-type]  # the same shape, typed apart
    plain = context.new_page()
    plain.goto("/search")
    fill_search(plain, given, family, born)
    expect(plain.get_by_role("cell", name=f"{given} {family}").first).to_be_visible()
    assert plain.url.endswith("/search")
    plain.get_by_role("link", name=re.compile(f"Open record of {given} {family}")).first.click()
    plain.get_by_label("Arranging a service").check()
    plain.get_by_role("button", name="Open record").click()
    expect(plain.get_by_role("heading", name="Services involved")).to_be_visible()
    expect(plain.get_by_text("Class teacher")).to_be_visible()  # the involvement just recorded
    context.close()
