"""The release plumbing: CHANGELOG.md and the notes the release workflow takes from it, the LICENSE,
and the workflows' action pins (the workflows themselves are validated offline in .ci/run)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
section = runpy.run_path(str(ROOT / ".github" / "scripts" / "changelog_section.py"))["section"]

SAMPLE = """# Changelog

## [Unreleased]

### Added
- next thing

## [0.2.0] - 2027-01-10

### Fixed
- a bug

## [0.1.0] - 2026-12-01

- first

[Unreleased]: https://example.invalid/compare/v0.2.0...HEAD
[0.2.0]: https://example.invalid/compare/v0.1.0...v0.2.0
"""


def test_release_notes_are_the_version_section() -> None:
    assert section(SAMPLE, "0.2.0") == "### Fixed\n- a bug"
    assert section(SAMPLE, "0.1.0") == "- first"
    assert section(SAMPLE, "Unreleased") == "### Added\n- next thing"
    with pytest.raises(LookupError, match=re.escape("no '## [0.3.0]' section")):
        section(SAMPLE, "0.3.0")
    with pytest.raises(LookupError, match="empty"):
        section("## [1.0.0] - 2027-02-02\n\n## [0.9.0]\n- x\n", "1.0.0")


def test_changelog_has_an_unreleased_section_with_entries() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in text
    assert section(text, "Unreleased").count("\n- ") >= 3


def test_license_is_mit_and_declared() -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License") and "The toolwire developers" in license_text
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "MIT"' in pyproject and 'license-files = ["LICENSE"]' in pyproject


def test_every_action_is_pinned_by_commit_sha() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    for workflow in workflows:
        for uses in re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", workflow.read_text(encoding="utf-8"), re.M):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (workflow.name, uses)


def test_the_readme_names_every_extra_a_user_installs() -> None:
    import sys

    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"Extras: (.*?)\n\n", readme, re.S)
    assert listed is not None
    named = set(re.findall(r"`([\w-]+)`", listed.group(1)))
    # bench-peers is for benchmarks/bench_early.py only (see its comment in pyproject.toml)
    assert set(extras) - {"bench-peers"} <= named, set(extras) - named
