#!/usr/bin/env python3
"""Write the API's OpenAPI document to docs/openapi.json (or check it with ``--check``), from
the app itself: the document the service serves at /api/v1/openapi.json, which the tests keep
equal to the committed one.

    .venv/bin/python scripts/openapi.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import database  # noqa: E402
from app.crypto.keyring import Keyring  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import load_settings  # noqa: E402

TARGET = ROOT / "docs" / "openapi.json"


def document() -> str:
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings({"SIGNPOST_DATA_DIR": scratch})
        keyring = Keyring(settings.keys_dir, create=True)
        app = create_app(
            settings,
            keyring=keyring,
            engine=database.make_engine(settings.database),
            audit_key=Ed25519PrivateKey.generate(),
            background_tasks=False,
        )
        return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json differs")
    args = parser.parse_args()
    text = document()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            sys.exit("docs/openapi.json is out of date: run scripts/openapi.py")
        print("docs/openapi.json is up to date")
        return
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
