"""The vendored front-end files are the ones scripts/vendor_assets.py built, and carry no GOV.UK brand.

This reads static/vendor/SHA256SUMS itself rather than importing the script, so a fault in the
script's own check cannot hide a changed file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUMS_FILE = ROOT / "static" / "vendor" / "SHA256SUMS"
VENDOR_DIRS = ("static/vendor/govuk", "static/vendor/htmx", "tests/browser/vendor")
CSS = ROOT / "static" / "vendor" / "govuk" / "signpost.min.css"
HTMX = ROOT / "static" / "vendor" / "htmx" / "htmx.min.js"
SUM_LINE = re.compile(r"(?P<sum>[0-9a-f]{64})  (?P<path>\S+)")


def read_sums() -> dict[str, str]:
    sums = {}
    for line in SUMS_FILE.read_text(encoding="utf-8").splitlines():
        match = SUM_LINE.fullmatch(line)
        assert match, f"not a sha256sum line in {SUMS_FILE.name}: {line!r}"
        sums[match["path"]] = match["sum"]
    return sums


SUMS = read_sums()


@pytest.mark.parametrize("path", sorted(SUMS))
def test_file_matches_its_sum(path: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"{path} is listed in SHA256SUMS but missing"
    actual = hashlib.sha256(file.read_bytes()).hexdigest()
    assert actual == SUMS[path], (
        f"{path} does not match SHA256SUMS: rebuild with `python scripts/vendor_assets.py`"
    )


def test_sums_cover_every_vendored_file() -> None:
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for directory in VENDOR_DIRS
        for path in (ROOT / directory).rglob("*")
        if path.is_file()
    }
    assert on_disk - SUMS.keys() == set(), "vendored files not listed in SHA256SUMS"
    assert {"tests/browser/vendor/axe.min.js", "static/vendor/htmx/htmx.min.js"} <= SUMS.keys()


def test_htmx_is_2_0() -> None:
    versions = set(re.findall(r'version:"([^"]+)"', HTMX.read_text(encoding="utf-8")))
    assert len(versions) == 1, f"expected one htmx version string, found {versions}"
    assert re.fullmatch(r"2\.0\.\d+", versions.pop())


@pytest.mark.parametrize("forbidden", ["GDS Transport", "@font-face", "govuk-crest", "govuk-crown"])
def test_stylesheet_has_no_gov_uk_typeface_or_marks(forbidden: str) -> None:
    assert forbidden not in CSS.read_text(encoding="utf-8")


def test_stylesheet_uses_the_system_font_stack() -> None:
    assert 'font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif' in CSS.read_text(
        encoding="utf-8"
    )
