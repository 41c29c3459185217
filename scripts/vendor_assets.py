#!/usr/bin/env python3
"""Vendor Signpost's front-end assets from pinned npm packages whose SHA-256 sums are checked.

    python scripts/vendor_assets.py          fetch the pinned packages with `npm pack`, check each
                                             tarball's sum, rebuild every vendored file and
                                             rewrite static/vendor/SHA256SUMS
    python scripts/vendor_assets.py --check  check the committed files against SHA256SUMS; needs
                                             no network, exits 1 naming every mismatch

To upgrade a package, read its changelog, change its version below and run the script: it stops at
the sum check and prints the new tarball's sum, which you copy into the pin once satisfied.

In the spirit of django-htmx's download_htmx.py, with sums so that a changed tarball is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMS_FILE = Path("static/vendor/SHA256SUMS")
SCSS_ENTRY = Path("static/src/signpost.scss")
CSS_OUTPUT = Path("static/vendor/govuk/signpost.min.css")
#: Directories this script owns outright: emptied and refilled on every run.
VENDOR_DIRS = (Path("static/vendor/govuk"), Path("static/vendor/htmx"), Path("tests/browser/vendor"))
#: Where compiled CSS may point url() at, and the directory those URLs map to in the repository.
ASSET_URL_PREFIX = "/static/vendor/govuk/assets/"
ASSET_DIR = Path("static/vendor/govuk/assets")


@dataclass(frozen=True, slots=True)
class Package:
    """An npm package pinned to one version and the SHA-256 of the tarball `npm pack` fetches."""

    name: str
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


GOVUK_FRONTEND = Package(
    name="govuk-frontend",
    version="6.6.0",
    sha256="52c4eb554e54d8a6e4ba801e9da5ec3a5b930fd2f117a39677f0b6296e954751",
)
HTMX = Package(
    name="htmx.org",
    version="2.0.11",
    sha256="165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e",
)
AXE_CORE = Package(
    name="axe-core",
    version="4.14.1",
    sha256="e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745",
)
#: The Dart Sass compiler and its runtime dependencies, each pinned, so that nothing in the build
#: is chosen by resolving a version range. Its optional @parcel/watcher serves only --watch.
SASS_COMPILER = (
    Package(
        name="sass",
        version="1.108.2",
        sha256="a3398fa194c3379174bac6650bdaad077d1fbe71c4e58e817b2e213d1479bbfe",
    ),
    Package(
        name="chokidar",
        version="5.0.0",
        sha256="45d07ea7d57ee482c733ab3c547cc49edc1423bc231507e41ff99d2711f7f5e3",
    ),
    Package(
        name="readdirp",
        version="5.1.1",
        sha256="935a688197715ea14c184e4a56542d6abe99a75b2c6d805d24a4cdf36514d5a5",
    ),
    Package(
        name="immutable",
        version="5.2.1",
        sha256="44be721297099bed852e685941658a3f270830f1fbd3c5f51c33fee1dcd935c9",
    ),
    Package(
        name="source-map-js",
        version="1.2.4",
        sha256="fcf3dbdffc360eb9194d7003bef68e557b8380fc7de6c24418873f64d66d9241",
    ),
)
PACKAGES = (GOVUK_FRONTEND, HTMX, AXE_CORE, *SASS_COMPILER)


@dataclass(frozen=True, slots=True)
class Copy:
    """A file taken unchanged from a package into the repository."""

    package: Package
    source: str  # path inside the package
    target: Path  # path relative to the repository root


COPIES = (
    Copy(
        GOVUK_FRONTEND,
        "dist/govuk/govuk-frontend.min.js",
        Path("static/vendor/govuk/govuk-frontend.min.js"),
    ),
    Copy(HTMX, "dist/htmx.min.js", Path("static/vendor/htmx/htmx.min.js")),
    Copy(HTMX, "LICENSE", Path("static/vendor/htmx/LICENSE")),
    Copy(AXE_CORE, "axe.min.js", Path("tests/browser/vendor/axe.min.js")),
    Copy(AXE_CORE, "LICENSE", Path("tests/browser/vendor/LICENSE")),
    Copy(AXE_CORE, "LICENSE-3RD-PARTY.txt", Path("tests/browser/vendor/LICENSE-3RD-PARTY.txt")),
)
#: govuk-frontend's tarball has no licence file, so its LICENSE is written from package.json's
#: licence field and the README's "Licence" section.
GOVUK_LICENSE = Path("static/vendor/govuk/LICENSE")

#: Text that must never reach the compiled CSS: GOV.UK's typeface, any web font, the crown or crest.
FORBIDDEN_IN_CSS = ("GDS Transport", "@font-face", "govuk-crest", "govuk-crown")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


class VendorError(Exception):
    """The assets cannot be vendored, or the committed ones do not match their sums."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise VendorError(f"{name} is not on PATH; install Node.js and npm (apt-get install npm)")
    return found


def _run(command: Sequence[str], cwd: Path) -> str:
    # The command is built here from pinned names and our own paths, never from user input.
    result = subprocess.run(  # noqa: S603
        list(command), cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise VendorError(f"{' '.join(command)} failed:\n{result.stderr.strip()}")
    return result.stdout


def fetch(package: Package, npm: str, workdir: Path) -> Path:
    """`npm pack` one package, refuse it unless its sum is the pinned one, and unpack it.

    Returns the unpacked package directory, ``workdir/node_modules/<name>``, so that the Sass
    compiler finds its dependencies and the Sass load path finds govuk-frontend.
    """
    tarballs = workdir / "tarballs"
    tarballs.mkdir(exist_ok=True)
    output = _run(
        [npm, "pack", package.spec, "--pack-destination", str(tarballs), "--json", "--silent"],
        cwd=workdir,
    )
    packed: object = json.loads(output)
    if not (isinstance(packed, list) and len(packed) == 1 and isinstance(packed[0], dict)):
        raise VendorError(f"npm pack {package.spec} gave unexpected output: {output[:200]}")
    tarball = tarballs / str(packed[0]["filename"])

    actual = sha256_of(tarball)
    if actual != package.sha256:
        raise VendorError(
            f"{package.spec}: tarball SHA-256 is {actual}, pinned {package.sha256}. "
            "If you meant to change the version, check its changelog, then update the pin."
        )

    unpacked = workdir / "unpacked" / package.name
    unpacked.mkdir(parents=True)
    with tarfile.open(tarball, "r:gz") as archive:
        archive.extractall(unpacked, filter="data")
    destination = workdir / "node_modules" / package.name
    destination.parent.mkdir(exist_ok=True)
    (unpacked / "package").rename(destination)
    return destination


def compile_css(node: str, workdir: Path, output: Path) -> None:
    """Compile static/src/signpost.scss with the pinned Dart Sass against pinned govuk-frontend."""
    node_modules = workdir / "node_modules"
    _run(
        [
            node,
            str(node_modules / "sass" / "sass.js"),
            "--style=compressed",
            "--no-source-map",
            "--no-error-css",
            f"--load-path={node_modules}",
            str(ROOT / SCSS_ENTRY),
            str(output),
        ],
        cwd=ROOT,
    )


def check_css(css: str, staged: Path) -> None:
    """Refuse CSS that carries GOV.UK branding or points at a file we do not vendor."""
    for forbidden in FORBIDDEN_IN_CSS:
        if forbidden in css:
            raise VendorError(f"{CSS_OUTPUT} contains {forbidden!r}; see {SCSS_ENTRY}")
    for url in _CSS_URL.findall(css):
        if url.startswith("data:"):
            continue
        if not url.startswith(ASSET_URL_PREFIX):
            raise VendorError(f"{CSS_OUTPUT} refers to {url}, outside {ASSET_URL_PREFIX}")
        if not (staged / ASSET_DIR / url.removeprefix(ASSET_URL_PREFIX)).is_file():
            raise VendorError(f"{CSS_OUTPUT} refers to {url}, which is not vendored")


def govuk_licence(package_dir: Path) -> str:
    manifest: object = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    licence = manifest.get("license") if isinstance(manifest, dict) else None
    readme = (package_dir / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Licence\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    if not isinstance(licence, str) or section is None:
        raise VendorError(f"{GOVUK_FRONTEND.spec}: cannot find its licence in package.json/README")
    return (
        f"{GOVUK_FRONTEND.spec}, from which govuk-frontend.min.js and signpost.min.css are built,\n"
        f'declares "license": "{licence}" in its package.json. Its npm package ships no licence\n'
        "file; this is the Licence section of its README.\n\n"
        f"{section.group(1).strip()}\n"
    )


def write_sums(paths: Sequence[Path]) -> None:
    lines = [f"{sha256_of(ROOT / path)}  {path.as_posix()}\n" for path in sorted(paths)]
    (ROOT / SUMS_FILE).write_text("".join(lines), encoding="utf-8")


def vendor() -> list[Path]:
    """Rebuild every vendored file from the pinned packages; return their paths."""
    npm, node = _tool("npm"), _tool("node")
    with tempfile.TemporaryDirectory(prefix="signpost-vendor-") as temporary:
        workdir = Path(temporary)
        unpacked = {package: fetch(package, npm, workdir) for package in PACKAGES}

        staged = workdir / "staged"
        for directory in VENDOR_DIRS:
            (staged / directory).mkdir(parents=True)
        for copy in COPIES:
            shutil.copyfile(unpacked[copy.package] / copy.source, staged / copy.target)
        (staged / GOVUK_LICENSE).write_text(govuk_licence(unpacked[GOVUK_FRONTEND]), encoding="utf-8")
        compile_css(node, workdir, staged / CSS_OUTPUT)
        check_css((staged / CSS_OUTPUT).read_text(encoding="utf-8"), staged)

        for directory in VENDOR_DIRS:
            shutil.rmtree(ROOT / directory, ignore_errors=True)
            shutil.copytree(staged / directory, ROOT / directory)

    vendored = [
        path.relative_to(ROOT)
        for directory in VENDOR_DIRS
        for path in (ROOT / directory).rglob("*")
        if path.is_file()
    ]
    # The stylesheet's source is ours, but its sum is kept too, so that --check (and the unit
    # test) notices a change to the Sass that was not followed by a rebuild.
    write_sums([*vendored, SCSS_ENTRY])
    return sorted(vendored)


def read_sums(sums_file: Path) -> dict[Path, str]:
    """Parse a `sha256sum`-format file into {path relative to the root: expected sum}."""
    sums: dict[Path, str] = {}
    for number, line in enumerate(sums_file.read_text(encoding="utf-8").splitlines(), 1):
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        if match is None:
            raise VendorError(f"{sums_file}:{number}: not a `sha256sum` line: {line!r}")
        sums[Path(match.group(2))] = match.group(1)
    return sums


def check(root: Path = ROOT) -> list[str]:
    """Compare the committed files with SHA256SUMS; return one line per problem, none if clean."""
    sums_file = root / SUMS_FILE
    if not sums_file.is_file():
        return [f"{SUMS_FILE} is missing; run scripts/vendor_assets.py"]
    try:
        sums = read_sums(sums_file)
    except VendorError as error:
        return [str(error)]

    problems = []
    for path, expected in sorted(sums.items()):
        if not (root / path).is_file():
            problems.append(f"{path}: missing")
        elif sha256_of(root / path) != expected:
            problems.append(f"{path}: SHA-256 does not match {SUMS_FILE}")
    for directory in VENDOR_DIRS:
        for path in sorted((root / directory).rglob("*")):
            if path.is_file() and path.relative_to(root) not in sums:
                problems.append(f"{path.relative_to(root)}: not listed in {SUMS_FILE}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the committed files against static/vendor/SHA256SUMS, without the network",
    )
    arguments = parser.parse_args(argv)

    if arguments.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"All files in {SUMS_FILE} match.")
        return 0

    try:
        vendored = vendor()
    except VendorError as error:
        print(error, file=sys.stderr)
        return 1
    for package in PACKAGES:
        print(f"checked {package.spec}")
    for path in vendored:
        print(f"wrote {path}")
    print(f"wrote {SUMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
