"""Every ```python block of README.md and docs/**/*.md runs, offline.

The blocks of one page run in order in one namespace, as a reader would paste them, against the
fake model of `fake_model.py` (in place of every network transport: no network, no real key). A block
that cannot run offline is preceded by an HTML comment giving the reason, which the reader does not
see on the site:

    <!-- not-run: needs a Google Cloud project -->

Pages added later are picked up by the glob; a page whose example fails fails here with the page,
the line and the error.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_model import KEY_HOSTS, FakeModelTransport

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>.+?)\s*-->\s*$", re.S)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    skip_reason: str | None


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip()
        marker = NOT_RUN.search(before[-400:])
        reason = marker.group("reason") if marker and before.endswith("-->") else None
        indent = len(match.group("indent"))
        code = "\n".join(line[indent:] for line in match.group("code").splitlines())
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        found.append(Block(name, text.count("\n", 0, match.start()) + 1, code, reason))
    return found


PAGES = [p for p in pages() if blocks_of(p)]


def run_block(block: Block, namespace: dict[str, object]) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    code = compile(block.code, f"{block.page}:{block.line}", "exec", flags=flags, dont_inherit=True)
    result = eval(code, namespace)  # the documentation's own code: that is the point
    if inspect.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_examples_run(page: Path, offline_world: FakeModelTransport) -> None:
    # a page's code runs as a script in the scratch directory would (`__file__` for conftest examples)
    namespace: dict[str, object] = {"__name__": "__doc_example__", "__file__": str(Path.cwd() / "example.py")}
    ran = 0
    for block in blocks_of(page):
        if block.skip_reason:
            continue
        try:
            run_block(block, namespace)
        except Exception as exc:
            pytest.fail(f"{block.page}:{block.line}: {type(exc).__name__}: {exc}\n{block.code}")
        ran += 1
    assert ran, f"{page}: every block is marked not-run"
    for request in offline_world.requests:  # a key from the environment only goes to its own host
        sent = " ".join(request.headers.values())
        for key, host in KEY_HOSTS.items():
            assert key not in sent or request.url.host == host, (page.name, key, str(request.url))


def test_pages_leave_the_provider_registry_as_they_found_it() -> None:
    # providers/README.md registers "my_mistral"; the fixture runs it on a copy
    from toolwire import available_providers

    assert "my_mistral" not in available_providers()


def test_entra_page_authenticates_with_a_bearer_token(offline_world: FakeModelTransport) -> None:
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    first = blocks_of(ROOT / "docs" / "getting-started" / "azure.md")[0]
    run_block(first, namespace)
    [*_, last] = offline_world.requests
    assert last.headers["authorization"] == "Bearer fake-entra-token"
    assert "api-key" not in last.headers
    assert str(last.url) == "https://my-resource.openai.azure.com/openai/v1/chat/completions"


def test_not_run_markers_give_a_reason() -> None:
    for page in pages():
        for block in blocks_of(page):
            assert block.skip_reason is None or len(block.skip_reason) > 10, (block.page, block.line)


def test_the_harness_finds_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "x\n```python\na = 1\n```\n\n<!-- not-run: needs a live key -->\n```python\nb = 2\n```\n"
        "- item:\n\n    ```python\n    c = 3\n    ```\n",
        encoding="utf-8",
    )
    found = blocks_of(page)
    assert [(b.line, b.code.strip(), b.skip_reason) for b in found] == [
        (2, "a = 1", None), (7, "b = 2", "needs a live key"), (12, "c = 3", None)
    ]


def count_examples() -> tuple[int, int]:
    """(executed, marked not-run) over every page: the figure the project reports."""
    every = [b for p in pages() for b in blocks_of(p)]
    return sum(b.skip_reason is None for b in every), sum(b.skip_reason is not None for b in every)
