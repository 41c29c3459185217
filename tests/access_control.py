"""The route x role table, derived from the app itself (docs/access-control.md must equal it)."""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute

from app.api.clients import API_ROLES
from app.api.routes import api_caller
from app.identity.service import Role
from app.identity.sessions import signed_in_with_role

ROLES = [r.value for r in Role]


def access_rows(app: Litestar) -> list[list[str]]:
    """One row per (path, method): who may call it, per role, and whether a key touch is needed."""
    rows = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/static"):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
                guarded = signed_in_with_role in guards
                allowed = handler.opt.get("roles") if guarded else None
                cells = [
                    ("yes" if allowed is None or role in allowed else "no") if guarded else "anyone"
                    for role in ROLES
                ]
                access = "signed in" if guarded else "public"
                if api_caller in guards:  # an API client, acting for a practitioner it names
                    access = "API client"
                    cells = ["yes" if role in API_ROLES else "no" for role in ROLES]
                step_up = "yes" if handler.opt.get("step_up") else ""
                rows.append([f"`{method} {route.path}`", access, *cells, step_up])
    return sorted(rows)


def render_table(app: Litestar) -> str:
    header = ["route", "access", *ROLES, "key touch"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in access_rows(app)]
    return "\n".join(lines)


def print_table() -> None:
    """Print the table for docs/access-control.md, from an app on a throwaway data directory."""
    import tempfile
    from pathlib import Path

    from app import database
    from app.crypto.keyring import Keyring
    from app.main import create_app
    from app.settings import load_settings

    data = Path(tempfile.mkdtemp())
    settings = load_settings({"SIGNPOST_DATA_DIR": str(data)})
    app = create_app(
        settings, keyring=Keyring(data / "keys", create=True), engine=database.make_engine(settings.database)
    )
    print(render_table(app))
