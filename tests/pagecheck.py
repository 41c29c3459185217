"""Checks every rendered HTML page must pass, applied to each page the test client fetches.

The page (or, for an htmx request, the fragment) parses as HTML5 without errors, has one
``<h1>`` and a ``<title>``, every form has an action and every POST form a CSRF field, ids are
unique, every ``<script>`` carries this response's CSP nonce, and nothing relies on inline event
handlers or inline styles, which the Content-Security-Policy would block.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import html5lib
from httpx import Response
from litestar.testing import AsyncTestClient

CSRF_FIELD = "_csrf_token"
_NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


class PageProblemError(AssertionError):
    pass


def page_problems(html: str, csp: str, *, fragment: bool = False) -> list[str]:
    """Problems with a page; a ``fragment`` (an htmx answer) has no document around it, so no
    doctype or title, and at most one ``<h1>``."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False)
    document = parser.parseFragment(html) if fragment else parser.parse(html)
    problems = [f"HTML parse error at {pos}: {code}" for pos, code, _ in parser.errors]
    h1s = document.findall(".//h1")
    if len(h1s) != 1 and not (fragment and not h1s):
        problems.append(f"expected one <h1>, found {len(h1s)}")
    title = document.find(".//title")
    if not fragment and (title is None or not "".join(title.itertext()).strip()):
        problems.append("no <title>")
    for form in document.iter("form"):
        if not form.get("action"):
            problems.append("a <form> has no action")
        if form.get("method", "get").lower() == "post":
            fields = [i.get("name") for i in form.iter("input")]
            if CSRF_FIELD not in fields:
                problems.append(f"a POST form to {form.get('action')} has no CSRF field")
    ids = Counter(el.get("id") for el in document.iter() if isinstance(el.tag, str) and el.get("id"))
    problems += [f"id {i!r} is used {n} times" for i, n in ids.items() if n > 1]
    match = _NONCE.search(csp)
    nonce = match.group(1) if match else None
    for script in document.iter("script"):
        if script.get("nonce") != nonce:
            problems.append(f"a <script> ({script.get('src') or 'inline'}) lacks this response's nonce")
    for el in document.iter():
        if not isinstance(el.tag, str):
            continue
        handlers = [a for a in el.attrib if a.lower().startswith("on")]
        if handlers:
            problems.append(f"<{el.tag}> has inline event handler(s) {handlers}")
        if "style" in el.attrib:
            problems.append(f"<{el.tag}> has an inline style attribute")
    return problems


def check_page(response: Response) -> None:
    if "text/html" not in response.headers.get("content-type", ""):
        return
    fragment = response.request.headers.get("hx-request") == "true"
    problems = page_problems(
        response.text, response.headers.get("content-security-policy", ""), fragment=fragment
    )
    if problems:
        raise PageProblemError(
            f"{response.request.method} {response.request.url.path}: " + "; ".join(problems)
        )


class CheckedClient(AsyncTestClient):  # type: ignore[type-arg]
    """Litestar's test client, checking every HTML page it receives."""

    async def request(self, *args: Any, **kwargs: Any) -> Response:
        response = await super().request(*args, **kwargs)
        check_page(response)
        return response
