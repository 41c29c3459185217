"""A practitioner searches and opens a record on behalf of someone without Signpost access, in a
real browser: the person is recorded first (errors shown GOV.UK style), every page says whom the
practitioner acts for until they stop, and every page is accessible."""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import CDPSession, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.tab import Tab, add_authenticator, assert_accessible
from tests.browser.test_search_journey import a_seeded_child, fill_search

pytestmark = pytest.mark.browser
EMAIL = "acting.practitioner@riverside.example.org"


def test_a_practitioner_searches_and_views_on_behalf_of_a_childminder(
    tab: Tab, cdp: CDPSession, live_server: str, live_env: dict[str, str]
) -> None:
    given, family, born = a_seeded_child(live_env)
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Pat Practitioner", "--email", EMAIL,
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

    page.goto("/home")
    expect(page.get_by_text("Signpost user ID")).to_be_visible()
    page.get_by_role("link", name="Search on behalf of someone without Signpost access").click()
    expect(page.get_by_role("heading", name="Search on behalf of someone else")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Start searching for them").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the person's full name")
    assert_accessible(tab)
    page.get_by_label("Their full name").fill("Jo Bloggs")
    page.get_by_label("Their organisation").fill("Little Stars Nursery")
    page.get_by_label("Their role").fill("Childminder")
    page.get_by_label("Their telephone number").fill("01632 960 555")
    page.get_by_role("button", name="Start searching for them").click()
    expect(page).to_have_url(re.compile("/search$"))
    expect(page.locator("#on-behalf")).to_contain_text("You are acting on behalf of Jo Bloggs")
    assert_accessible(tab)

    fill_search(page, given, family, born)
    expect(page.get_by_role("cell", name=f"{given} {family}").first).to_be_visible()
    page.get_by_role("link", name=re.compile(f"Open record of {given} {family}")).first.click()
    page.get_by_label("Arranging a service").check()
    page.get_by_role("button", name="Open record").click()
    expect(page.get_by_role("heading", name=f"{given} {family}")).to_be_visible()
    expect(page.locator("#on-behalf")).to_contain_text("Little Stars Nursery")
    assert_accessible(tab)

    page.get_by_role("button", name="Stop acting on their behalf").click()
    expect(page).to_have_url(re.compile("/search$"))
    expect(page.locator("#on-behalf")).to_have_count(0)
    assert_accessible(tab)
