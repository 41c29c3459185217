"""The start page, in a real browser against the real service."""

from __future__ import annotations

import pytest

from tests.browser.tab import Tab, describe_violations

pytestmark = pytest.mark.browser


def test_start_page_names_the_service_and_passes_axe(tab: Tab) -> None:
    response = tab.page.goto("/")
    assert response is not None
    assert response.status == 200
    tab.page.wait_for_load_state("load")

    assert tab.page.locator("h1").inner_text() == "Signpost"
    assert tab.page.title() == "Signpost"

    violations = tab.axe_violations()
    assert violations == [], "axe found accessibility problems:\n" + describe_violations(violations)


def test_start_page_runs_its_scripts_within_the_csp(tab: Tab) -> None:
    tab.page.goto("/")
    tab.page.wait_for_load_state("load")

    # GOV.UK Frontend's body-class snippet ran, and initAll() in the module found the browser able.
    body_classes = tab.page.evaluate("document.body.className").split()
    assert "js-enabled" in body_classes
    assert "govuk-frontend-supported" in body_classes
    assert tab.page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    assert tab.csp_violations() == [], "the page broke its Content Security Policy"
