"""The local-authority admin in a real browser: loads the demo authority's feed on the web page,
resolves the review queue (with JavaScript off for the decision), and shields a child; every
page passes axe-core."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.live import a_child_of_the_live_service
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
EMAIL = "feeds.team@northshire.example.org"


def database_count(live_env: dict[str, str], sql: str) -> int:
    with sqlite3.connect(Path(live_env["SIGNPOST_DATA_DIR"]) / "signpost.sqlite3") as database:
        return int(database.execute(sql).fetchone()[0])


def touched(page: Page) -> None:
    """Answer a key-touch page if Signpost asks for one (more than five minutes since the last)."""
    if "/step-up" in page.url:
        page.get_by_role("button", name="Confirm with security key").click()
        page.wait_for_load_state()


def test_the_admin_loads_a_feed_resolves_the_queue_and_shields_a_child(
    tab: Tab, cdp: CDPSession, chromium: Browser, live_server: str, live_env: dict[str, str], tmp_path: Path
) -> None:
    child = a_child_of_the_live_service(live_env)
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Fen Team", "--email", EMAIL, "--role", "la_admin",
         "--org", "Signpost team", "--authority", child.authority],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    feed = tmp_path / "demo-feed.csv"
    subprocess.run(
        [SIGNPOST, "demo-feed", str(feed), "--authority", child.authority_code, "--rows", "12"],
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

    # Load the feed: first with no file, then the demo feed.
    page.goto("/home")
    page.get_by_role("link", name="Load a feed").click()
    touched(page)
    expect(page.get_by_role("heading", name="Load a feed")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Check and load the feed").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select a CSV file")
    assert_accessible(tab)
    page.get_by_label("Source").fill("demo-census")
    page.get_by_label("Feed file (CSV, up to 10 MB)").set_input_files(str(feed))
    page.get_by_role("button", name="Check and load the feed").click()
    expect(page.get_by_role("heading", name="Feed loaded")).to_be_visible()
    assert_accessible(tab)
    pending = database_count(live_env, "SELECT COUNT(*) FROM feed_review WHERE status = 'pending'")
    assert pending >= 1  # the demo feed's family name with a typo, at least

    # The review queue, and the first row decided with JavaScript off.
    page.get_by_role("button", name="Go to the review queue").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert_accessible(tab)
    plain = chromium.new_context(
        base_url=live_server, java_script_enabled=False, storage_state=page.context.storage_state()
    )
    try:
        nojs = plain.new_page()
        nojs.goto("/admin/review")
        nojs.get_by_role("link", name=re.compile("^Decide")).first.click()
        expect(nojs.get_by_role("heading", name="Review a feed row")).to_be_visible()
        nojs.get_by_role("button", name="Save decision").click()
        expect(nojs.locator(".govuk-error-summary")).to_contain_text("Choose what to do with this row")
        nojs.get_by_label("One of the possible records: update it").check()
        nojs.get_by_role("group", name="If it is one of them: which record?").get_by_role(
            "radio"
        ).first.check()
        nojs.get_by_role("button", name="Save decision").click()
        expect(nojs).to_have_url(re.compile("/admin/review$"))
    finally:
        plain.close()
    assert database_count(live_env, "SELECT COUNT(*) FROM feed_review WHERE status = 'merged'") == 1

    # The rest, with JavaScript on: each page checked.
    while database_count(live_env, "SELECT COUNT(*) FROM feed_review WHERE status = 'pending'"):
        page.goto("/admin/review")
        page.get_by_role("link", name=re.compile("^Decide")).first.click()
        touched(page)
        expect(page.get_by_role("heading", name="Review a feed row")).to_be_visible()
        assert_accessible(tab)
        page.get_by_label("Wrong or not for Signpost: reject it").check()
        page.get_by_role("button", name="Save decision").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.goto("/admin/review")
    expect(page.get_by_text("Nothing is waiting for review.")).to_be_visible()
    assert_accessible(tab)

    # Shield a child: find them, open the record with a reason, then Shielding.
    page.goto("/search")
    page.get_by_label("Family name").fill(child.family)
    page.get_by_label("Day").fill(str(child.born.day))
    page.get_by_label("Month").fill(str(child.born.month))
    page.get_by_label("Year").fill(str(child.born.year))
    page.get_by_label("Given name").fill(child.given)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile(f"Open record of {child.given} ")).first.click()
    page.get_by_label("Safeguarding concern").check()
    page.get_by_role("button", name="Open record").click()
    page.get_by_role("link", name="Shielding").click()
    touched(page)
    expect(page.get_by_role("heading", name="Shielding")).to_be_visible()
    shielding_url = page.url
    assert_accessible(tab)
    page.get_by_role("button", name="Shield this record").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select why the record is shielded")
    assert_accessible(tab)
    page.get_by_label("Living in a refuge").check()
    page.get_by_role("button", name="Shield this record").click()  # the review date is filled in
    expect(page.get_by_role("heading", name="Record shielded")).to_be_visible()
    assert_accessible(tab)
    assert database_count(live_env, "SELECT COUNT(*) FROM shielding WHERE reason = 'refuge'") == 1

    # Correct the record: the form comes filled in; a reason is needed.
    page.goto(shielding_url.replace("/shielding", "/correct"))
    touched(page)
    expect(page.get_by_role("heading", name="Correct a record")).to_be_visible()
    expect(page.get_by_label("Given name")).to_have_value(child.given)
    assert_accessible(tab)
    page.get_by_role("button", name="Save corrections").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select why you are correcting the record")
    assert_accessible(tab)
