"""The application secret that signs CSRF tokens (and, later, session identifiers).

In production it comes from ``SIGNPOST_SECRET_KEY`` and the service refuses to start without it.
In development it is created once in the keys directory and reused, so a restart keeps forms valid.
"""

from __future__ import annotations

import os
import secrets

from app.settings import Settings

SECRET_FILE = "app-secret"  # noqa: S105 -- a file name, not a secret


def app_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    if settings.production:  # load_settings refuses this; never fall back silently
        raise RuntimeError("SIGNPOST_SECRET_KEY is required in production")
    path = settings.keys_dir / SECRET_FILE
    if not path.exists():
        settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text(encoding="ascii").strip()
