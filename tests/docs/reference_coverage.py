"""Every public name has a page in the built API reference: `python tests/docs/reference_coverage.py site`.

Run by .ci/run after `mkdocs build --strict`. It collects the headings mkdocstrings rendered in the
reference pages (each documented object is an HTML element whose id is its dotted path; the
site's objects.inv also lists mere aliases, so it is not used) and checks that each name of each
public module's `__all__` is rendered, under the module that defines it or the one that exports it.
A new public module belongs in PUBLIC_MODULES and on a page of docs/reference/.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

PUBLIC_MODULES = (
    "toolwire",
    "toolwire.tools",
    "toolwire.errors",
    "toolwire.types",
    "toolwire.events",
    "toolwire.session",
    "toolwire.testing",
    "toolwire.logs",
    "toolwire.recorder",
    "toolwire.tracing",
    "toolwire.providers.registry",
    "toolwire.providers.base",
    "toolwire.providers.fallback",
    "toolwire.tools.definition",
    "toolwire.tools.execution",
    "toolwire.tools.standardize",
    "toolwire.tools.schema",
    "toolwire.tools.dialects",
    "toolwire.image",
    "toolwire.batch",
    "toolwire.mcp",
    "toolwire.integrations.sse",
)
NOT_DOCUMENTED = {"toolwire.__version__"}  # a plain string, shown on the reference index page


def candidates(module_name: str, name: str) -> set[str]:
    module = importlib.import_module(module_name)
    value = getattr(module, name)
    found = {f"{module_name}.{name}"}
    if isinstance(value, type(module)):
        found.add(value.__name__)
    defined_in = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(defined_in, str) and isinstance(qualname, str):
        found.add(f"{defined_in}.{qualname}")
    for other in PUBLIC_MODULES:  # type aliases (SessionEvent) have no __module__: who else exports it
        if getattr(importlib.import_module(other), name, None) is value:
            found.add(f"{other}.{name}")
    return found


def missing(documented: set[str]) -> list[str]:
    gaps = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if f"{module_name}.{name}" in NOT_DOCUMENTED:
                continue
            if not candidates(module_name, name) & documented:
                gaps.append(f"{module_name}.{name}")
    return gaps


def main(site: str) -> int:
    pages = sorted((Path(site) / "reference").rglob("*.html"))
    if not pages:
        print(f"no reference pages under {site}/reference: build the site first (mkdocs build)")
        return 1
    documented = {m for page in pages for m in re.findall(r'id="(toolwire[\w.]*)"', page.read_text("utf-8"))}
    gaps = missing(documented)
    total = sum(len(importlib.import_module(m).__all__) for m in PUBLIC_MODULES)
    if gaps:
        print(f"{len(gaps)} public names have no API reference entry:", *gaps, sep="\n  ")
        return 1
    print(f"API reference: all {total} public names of {len(PUBLIC_MODULES)} modules are documented")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "site"))
