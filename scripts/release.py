"""The template's release: its tag, and its notes, from cookiecutter.json and CHANGELOG.md.

    python scripts/release.py tag     # prints vX.Y.Z, the tag of __template_version
    python scripts/release.py notes   # prints what CHANGELOG.md says that release brings

Either exits with status 1, one ``error:`` line per problem on stderr, unless the two files agree:
``__template_version`` is X.Y.Z (semantic versioning), the newest release in CHANGELOG.md is
``## [X.Y.Z] - YYYY-MM-DD`` with something under it, its link points at the tag vX.Y.Z, and the
``[Unreleased]`` link compares vX.Y.Z with HEAD. The release workflow runs it, and so do the tests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
RELEASE = re.compile(r"^## \[(?P<version>[^]]+)\] - (?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})$", re.MULTILINE)


def release(root: Path) -> tuple[str, str, list[str]]:
    """The tag, the release notes, and every way the two files disagree."""
    version = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8")).get("__template_version")
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    problems: list[str] = []
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        problems.append(f"__template_version in cookiecutter.json is {version!r}, not a version X.Y.Z")
        version = str(version)
    tag = f"v{version}"
    headings = list(RELEASE.finditer(changelog))
    notes = ""
    if not headings:
        problems.append("CHANGELOG.md has no release heading '## [X.Y.Z] - YYYY-MM-DD'")
    elif headings[0]["version"] != version:
        problems.append(
            f"the newest release in CHANGELOG.md is {headings[0]['version']}, "
            f"but __template_version in cookiecutter.json is {version}"
        )
    else:
        rest = changelog[headings[0].end() :]
        end = re.search(r"^## |^\[[^]]+\]: ", rest, flags=re.MULTILINE)
        notes = (rest[: end.start()] if end else rest).strip()
        if not notes:
            problems.append(f"CHANGELOG.md says nothing under {version}")
    if not re.search(
        rf"^\[{re.escape(version)}\]: \S+/releases/tag/{re.escape(tag)}$", changelog, re.MULTILINE
    ):
        problems.append(f"CHANGELOG.md has no link '[{version}]: …/releases/tag/{tag}'")
    if not re.search(rf"^\[Unreleased\]: \S+/compare/{re.escape(tag)}\.\.\.HEAD$", changelog, re.MULTILINE):
        problems.append(f"the [Unreleased] link of CHANGELOG.md does not compare {tag} with HEAD")
    return tag, notes, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("what", choices=["tag", "notes"])
    parser.add_argument("--root", type=Path, default=ROOT, help="the template's checkout (default: this one)")
    arguments = parser.parse_args(argv)
    tag, notes, problems = release(arguments.root)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(tag if arguments.what == "tag" else notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
