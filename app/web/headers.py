"""Security headers on every response, errors and unmatched routes included.

Litestar runs route middleware only for matched routes, so the headers are set in an app-level
``before_send`` hook, which sees every response. The CSP nonce is created on first use, by the
template that needs it (``csp_nonce()``) or by the hook, and is fresh for every response.
"""

from __future__ import annotations

import secrets
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

NONCE_KEY = "csp_nonce"

PERMISSIONS_POLICY = ", ".join(
    [
        "publickey-credentials-get=(self)",
        "publickey-credentials-create=(self)",
        "camera=()",
        "microphone=()",
        "geolocation=()",
        "payment=()",
        "usb=()",
        "interest-cohort=()",
    ]
)


def nonce_for(scope: Scope | dict[str, Any]) -> str:
    state: dict[str, Any] = scope.setdefault("state", {})
    nonce = state.get(NONCE_KEY)
    if not isinstance(nonce, str):
        nonce = secrets.token_urlsafe(18)
        state[NONCE_KEY] = nonce
    return nonce


@pass_context
def csp_nonce(context: Context) -> str:
    """Jinja global: the nonce for this response's ``<script>`` tags."""
    return nonce_for(context["request"].scope)


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'nonce-{nonce}' 'strict-dynamic'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def make_security_headers_hook(*, production: bool) -> Any:
    """The ``before_send`` hook that stamps the headers onto each response start."""

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["Content-Security-Policy"] = content_security_policy(nonce_for(scope))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Permissions-Policy"] = PERMISSIONS_POLICY
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
        if production:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"

    return add_security_headers
