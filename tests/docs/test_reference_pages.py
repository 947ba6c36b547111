"""Without building the site: every public name's module has a `::: module` directive on a page of
docs/reference/ (the built site is checked name by name by reference_coverage.py in .ci/run)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from reference_coverage import NOT_DOCUMENTED, PUBLIC_MODULES, candidates

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


def directives() -> set[str]:
    return {
        match
        for page in REFERENCE.glob("*.md")
        for match in re.findall(r"^::: ([\w.]+)\s*$", page.read_text("utf-8"), re.M)
    }


def test_every_public_name_is_on_a_reference_page() -> None:
    rendered = directives()
    homeless = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if f"{module_name}.{name}" in NOT_DOCUMENTED:
                continue
            # where it may be rendered: the module of each dotted path it is known by, or itself
            paths = candidates(module_name, name)
            homes = paths | {path.rsplit(".", 1)[0] for path in paths}
            if not homes & rendered:
                homeless.append(f"{module_name}.{name}")
    assert not homeless, f"add their modules to a page of docs/reference/: {homeless}"


def test_reference_pages_are_in_the_nav() -> None:
    nav = (REFERENCE.parents[1] / "mkdocs.yml").read_text("utf-8")
    for page in REFERENCE.glob("*.md"):
        assert f"reference/{page.name}" in nav, page.name
