"""The first admin enrols a security key in a real browser, invites a practitioner, and signs
in again with a backup key; a key that cannot verify its user is refused with a clear message.

Chromium's virtual authenticators (CDP ``WebAuthn`` domain) stand in for hardware keys.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from playwright.sync_api import CDPSession, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.tab import Tab, add_authenticator, assert_accessible

pytestmark = pytest.mark.browser
ADMIN_EMAIL = "first.admin@northshire.example.org"


def first_admin_code(live_env: dict[str, str]) -> str:
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", "First Admin", "--email", ADMIN_EMAIL, "--role", "la_admin",
         "--org", "Signpost team", "--authority", "Northshire Council"],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return created.stdout.strip().splitlines()[-1]


def test_enrol_invite_add_a_backup_key_and_sign_in_again(
    tab: Tab, cdp: CDPSession, live_server: str, live_env: dict[str, str]
) -> None:
    page = tab.page
    code = first_admin_code(live_env)
    first_key = add_authenticator(cdp)

    page.goto("/enrol")
    assert_accessible(tab)
    page.get_by_label("Work email address").fill(ADMIN_EMAIL)
    page.get_by_label("Enrolment code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile("/enrol/key$"))
    assert_accessible(tab)
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))
    assert_accessible(tab)

    # The backup key is a second authenticator; the first is unplugged while it registers.
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first_key})
    backup_key = add_authenticator(cdp)
    page.get_by_role("button", name="Register backup key").click()
    expect(page).to_have_url(re.compile("/keys\\?added=1$"))
    expect(page.get_by_text("Your new security key is registered.")).to_be_visible()
    assert_accessible(tab)
    expect(page.get_by_role("cell", name="Security key 2")).to_be_visible()

    # Invite a practitioner.
    page.goto("/admin/users/new")
    assert_accessible(tab)
    page.get_by_role("button", name="Add person and issue a code").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.title().startswith("Error: ")
    assert_accessible(tab)
    page.get_by_label("Full name").fill("Cara Nwosu")
    page.get_by_label("Work email address").fill("cara.nwosu@health.example.org")
    page.get_by_label("Practitioner").check()
    page.get_by_label("Organisation").fill("Northshire Health Visiting")
    page.get_by_role("button", name="Add person and issue a code").click()
    expect(page.get_by_role("heading", name="Enrolment code for Cara Nwosu")).to_be_visible()
    assert_accessible(tab)
    match = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content())
    assert match
    page.goto("/admin/users")
    expect(page.get_by_role("cell", name="Cara Nwosu", exact=True)).to_be_visible()
    assert_accessible(tab)

    # Cara enrols her own key from the code the admin issued, in another browser.
    other = tab.page.context.browser.new_context(base_url=live_server)  # type: ignore[union-attr]
    cara_page = other.new_page()
    cara_cdp = other.new_cdp_session(cara_page)
    cara_cdp.send("WebAuthn.enable", {"enableUI": False})
    add_authenticator(cara_cdp)
    cara_page.goto("/enrol")
    cara_page.get_by_label("Work email address").fill("cara.nwosu@health.example.org")
    cara_page.get_by_label("Enrolment code").fill(match.group(0))
    cara_page.get_by_role("button", name="Continue").click()
    cara_page.get_by_role("button", name="Register security key").click()
    expect(cara_page).to_have_url(re.compile("/enrol/backup$"))
    cara_page.goto("/home")
    expect(cara_page.get_by_text("Northshire Health Visiting")).to_be_visible()
    other.close()

    # Sign out, then in again with the backup key.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/\\?signed_out=1$"))
    page.goto("/home")
    expect(page).to_have_url(re.compile("/login$"))
    assert_accessible(tab)
    page.get_by_role("button", name="Sign in with security key").click()
    expect(page).to_have_url(re.compile("/home$"))
    expect(page.get_by_role("heading", name="Your Signpost")).to_be_visible()
    assert_accessible(tab)
    page.goto("/keys")
    assert_accessible(tab)
    page.goto("/step-up?next=/keys/add")  # where a stale key touch sends someone: then back
    assert_accessible(tab)
    page.get_by_role("button", name="Confirm with security key").click()
    expect(page).to_have_url(re.compile("/keys/add$"))

    # A key that cannot verify its user (no PIN, no fingerprint) does not sign anyone in.
    page.get_by_role("button", name="Sign out").click()
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": backup_key, "isUserVerified": False})
    page.goto("/login")
    page.get_by_label("Work email address (optional)").fill(ADMIN_EMAIL)
    page.get_by_role("button", name="Sign in with security key").click()
    status = page.locator("#key-status")
    expect(status).to_be_visible()
    # Either the authenticator refuses without a PIN, or Signpost refuses the unverified response.
    expect(status).to_have_text(
        re.compile("Your security key did not respond|That security key could not sign you in")
    )
    expect(page).to_have_url(re.compile("/login$"))
    assert_accessible(tab)


def test_pages_say_plainly_that_the_key_step_needs_javascript(chromium: Any, live_server: str) -> None:
    context = chromium.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/login")
    assert "Using a security key needs JavaScript" in page.content()
    page.goto("/enrol")
    expect(page.get_by_role("button", name="Continue")).to_be_visible()  # the code step works without it
    context.close()
