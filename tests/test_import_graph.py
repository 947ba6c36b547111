"""The package's import graph has no cycle outside `TYPE_CHECKING`, and every module imports on
its own (in a fresh interpreter, first): a cycle shows up as a module that only imports when
another one was imported before it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "toolwire"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports when it is imported (module-level statements,
    `if TYPE_CHECKING:` blocks left out; imports inside functions run later and are not edges)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in known)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if target in known:
                    found.add(target)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in known:
                        found.add(sub)

    visit(ast.parse(path.read_text()).body)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package importing its own submodule is how packages work, not a cycle
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return cycles


def test_no_import_cycle_outside_type_checking() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _top_level_imports(name, path, known) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_every_module_imports_on_its_own() -> None:
    names = [n for n in _modules() if not n.endswith("__main__")]
    script = (
        "import importlib, subprocess, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    code = f'import importlib; importlib.import_module({name!r})'\n"
        "    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)\n"
        "    if run.returncode:\n"
        "        failed.append((name, run.stderr.strip().splitlines()[-1:]))\n"
        "print(failed)\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
