"""The privacy officer in a real browser: enrol, see the alert queue, search the audit trail
(including a mistake in a date), every page accessible; then the live service's trail verifies."""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import CDPSession, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
OFFICER_EMAIL = "privacy.officer@northshire.example.org"


def test_the_privacy_officer_reviews_alerts_and_the_audit_trail(
    tab: Tab,
    cdp: CDPSession,
    live_server: str,
    live_env: dict[str, str],
) -> None:
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "Priya Officer", "--email", OFFICER_EMAIL,
         "--role", "privacy_officer", "--org", "Information governance", "--authority", "Northshire Council"],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    code = created.stdout.strip().splitlines()[-1]
    page = tab.page
    add_authenticator(cdp)
    page.goto("/enrol")
    page.get_by_label("Work email address").fill(OFFICER_EMAIL)
    page.get_by_label("Enrolment code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))

    page.get_by_role("link", name="Alerts").first.click()
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    expect(page.get_by_text("No alerts need looking at.")).to_be_visible()
    assert_accessible(tab)

    page.goto("/privacy/audit")
    assert_accessible(tab)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="Used an enrolment code").first).to_be_visible()
    expect(page.get_by_role("cell", name="Priya Officer").first).to_be_visible()
    assert_accessible(tab)

    page.locator("#from-day").fill("31")
    page.locator("#from-month").fill("2")
    page.locator("#from-year").fill("2026")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The from date must be a real date")
    assert page.title().startswith("Error: ")
    assert_accessible(tab)

    verified = subprocess.run(
        [SIGNPOST, "audit", "verify"], env=live_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert verified.returncode == 0, verified.stderr
    assert "chain correctly" in verified.stdout
