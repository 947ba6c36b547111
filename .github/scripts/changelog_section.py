"""Print one version's section of a Keep a Changelog file: `changelog_section.py 0.2.0 CHANGELOG.md`.

Used by the release workflow for the GitHub release notes. Fails (exit 1) when the section is
missing or empty, so a release cannot go out without its changelog entry.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def section(text: str, version: str) -> str:
    """The body under `## [version]` (with or without a date), up to the next `## ` heading."""
    heading = re.compile(rf"^## \[?{re.escape(version)}\]?(?:\s+-\s+.*)?$", re.M)
    match = heading.search(text)
    if match is None:
        raise LookupError(f"no '## [{version}]' section in the changelog")
    following = re.compile(r"^## ", re.M).search(text, match.end())
    body = text[match.end() : following.start() if following else len(text)]
    body = re.sub(r"^\[[^\]]+\]:\s+\S+\s*$", "", body, flags=re.M).strip()  # link definitions
    if not body:
        raise LookupError(f"the '## [{version}]' section of the changelog is empty")
    return body


def main(argv: list[str]) -> int:
    version, path = argv[1], argv[2] if len(argv) > 2 else "CHANGELOG.md"
    try:
        print(section(Path(path).read_text(encoding="utf-8"), version.removeprefix("v")))
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
