"""A browser tab for tests: the page, what it logged, and its accessibility and CSP findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import CDPSession, Page

AXE_SOURCE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@dataclass
class Tab:
    """A page in its own browser context, with everything it logged to the console."""

    page: Page
    console: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        """Console messages in which Chromium reports a Content Security Policy refusal."""
        return [text for text in self.console if "Content Security Policy" in text]

    def axe_violations(self) -> list[dict[str, Any]]:
        """Run axe-core's WCAG 2.0-2.2 A and AA rules on the page; return its violations.

        The page's CSP admits only nonced scripts, so ``page.add_script_tag(path=...)``, which
        inlines the file in a <script> element, would be refused and logged as a violation.
        ``page.evaluate`` sends the source over the DevTools protocol, which the page's CSP does not
        govern, so the page keeps its real policy and no ``bypass_csp`` context is needed.
        """
        self.page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
        violations: list[dict[str, Any]] = self.page.evaluate(
            """tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
                         .then(results => results.violations)""",
            WCAG_TAGS,
        )
        return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per axe rule broken, naming the elements that broke it."""
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -- {targets}")
    return "\n".join(lines)


def add_authenticator(cdp: CDPSession, *, verified: bool = True) -> str:
    options = {
        "protocol": "ctap2",
        "transport": "usb",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": verified,
        "automaticPresenceSimulation": True,
    }
    result: dict[str, Any] = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    authenticator: str = result["authenticatorId"]
    return authenticator


def assert_accessible(tab: Tab) -> None:
    violations = tab.axe_violations()
    assert violations == [], f"{tab.page.url}:\n" + describe_violations(violations)
    assert tab.csp_violations() == []
