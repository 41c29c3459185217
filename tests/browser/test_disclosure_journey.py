"""Police exceptional disclosure in a real browser: a police officer makes a request (the form
first with JavaScript off) and sends it with a virtual security key; a second person, an
approver of the child's authority with a key of their own, approves it with a key touch; the
officer then opens that one record, for the time the page states. Every page passes axe-core."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import SIGNPOST
from tests.browser.live import a_child_of_the_live_service
from tests.browser.tab import Tab, add_authenticator, assert_accessible
from tests.browser.test_subject_access_journey import fill_date

pytestmark = pytest.mark.browser
POLICE_EMAIL = "pc.quill@northshire-police.example.org"
APPROVER_EMAIL = "disclosure.approver@northshire.example.org"


def create_user(live_env: dict[str, str], name: str, email: str, role: str, org: str, authority: str) -> str:
    created = subprocess.run(
        [SIGNPOST, "users", "create", "--name", name, "--email", email, "--role", role,
         "--org", org, "--authority", authority],
        env=live_env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return created.stdout.strip().splitlines()[-1]


def enrol(tab: Tab, email: str, code: str) -> None:
    page = tab.page
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    add_authenticator(cdp)
    page.goto("/enrol")
    page.get_by_label("Work email address").fill(email)
    page.get_by_label("Enrolment code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key").click()
    expect(page).to_have_url(re.compile("/enrol/backup$"))


@pytest.fixture
def second_tab(chromium: Browser, live_server: str) -> Iterator[Tab]:
    """Another person's browser: its own context, cookies and security key."""
    context = chromium.new_context(base_url=live_server)
    tab = Tab(page=context.new_page())
    tab.page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))
    yield tab
    context.close()


def test_a_request_is_approved_by_a_second_person_and_opens_one_record_for_a_time(
    tab: Tab, second_tab: Tab, chromium: Browser, live_server: str, live_env: dict[str, str]
) -> None:
    child = a_child_of_the_live_service(live_env)
    police_code = create_user(
        live_env, "PC Quill", POLICE_EMAIL, "police", "Northshire Police", child.authority_code
    )
    approver_code = create_user(
        live_env,
        "Dana Approver",
        APPROVER_EMAIL,
        "disclosure_approver",
        "Legal services",
        child.authority_code,
    )

    # The request form works with JavaScript off (only the key touch needs it).
    enrol(tab, POLICE_EMAIL, police_code)
    no_script = chromium.new_context(
        base_url=live_server, java_script_enabled=False, storage_state=tab.page.context.storage_state()
    )
    plain = no_script.new_page()
    plain.goto("/disclosure/requests/new")
    plain.get_by_role("button", name="Continue").click()
    expect(plain.locator(".govuk-error-summary")).to_contain_text("Enter the crime reference")
    assert plain.title().startswith("Error: ")
    no_script.close()

    page = tab.page
    page.goto("/home")
    page.get_by_role("link", name="Disclosure requests").first.click()
    expect(page.get_by_role("heading", name="Your disclosure requests")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Make a request").click()  # a link drawn as a button
    page.get_by_label("Family name").fill(child.family)
    fill_date(page, "dob", child.born)
    page.get_by_label("Given name").fill(child.given)
    page.get_by_label("Crime reference").fill("NS/40417/26")
    page.get_by_label("Violence against the person").check()
    page.get_by_label(re.compile("Schedule 2, paragraph 2")).check()
    page.get_by_label("Routine").check()
    page.get_by_label("Why is the disclosure necessary and proportionate?").fill(
        "The child witnessed an assault on 20 November; we need a parent's contact details to arrange "
        "an interview with an appropriate adult."
    )
    assert_accessible(tab)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your request before you send it")).to_be_visible()
    expect(page.get_by_text(child.given)).to_have_count(0)  # nothing about the record itself
    assert_accessible(tab)
    page.get_by_role("button", name="Send the request").click()  # the key was touched at enrolment
    expect(page.get_by_role("heading", name="Waiting for a decision")).to_be_visible()
    request_url = page.url
    assert_accessible(tab)

    # A second person, with a key of their own, decides.
    enrol(second_tab, APPROVER_EMAIL, approver_code)
    decider = second_tab.page
    decider.goto("/home")
    decider.get_by_role("link", name="Disclosure requests").first.click()
    expect(decider.get_by_role("heading", name="Police disclosure requests")).to_be_visible()
    assert_accessible(second_tab)
    decider.get_by_role("link", name=re.compile(r"^Request \d+")).first.click()
    expect(decider.get_by_text("NS/40417/26")).to_be_visible()
    expect(decider.get_by_text(f"{child.given} {child.family}")).to_be_visible()
    assert_accessible(second_tab)
    decider.get_by_role("button", name="Record the decision").click()  # nothing chosen
    expect(decider.locator(".govuk-error-summary")).to_contain_text("Select whether you approve")
    assert_accessible(second_tab)
    expect(decider.get_by_label("The disclosure is not proportionate to the aim")).to_be_visible()
    decider.get_by_label("Approve: necessary and proportionate for the stated purpose").check()
    decider.get_by_label("Your reasons").fill(
        "Necessary to arrange the interview; proportionate: contact only."
    )
    decider.get_by_role("button", name="Record the decision").click()  # the key was touched at enrolment
    expect(decider.get_by_role("heading", name="Approved")).to_be_visible()
    expect(decider.get_by_text("The officer may open the record until")).to_be_visible()
    assert_accessible(second_tab)

    # The officer opens that one record, for the time the page states.
    page.goto(request_url)
    expect(page.get_by_text("You may open the child's record until")).to_be_visible()
    assert_accessible(tab)
    page.get_by_role("button", name="Open the record").click()
    expect(page.get_by_role("heading", name=f"{child.given} {child.family}")).to_be_visible()
    expect(page.get_by_text("Opened under disclosure request")).to_be_visible()
    expect(page.get_by_role("link", name="Record your involvement")).to_have_count(0)
    assert_accessible(tab)
    page.goto("/search")
    expect(page.get_by_role("heading", name="You cannot use this page")).to_be_visible()
