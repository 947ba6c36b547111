"""docs/providers/bedrock.md: every Python block runs offline, except those marked
`<!-- not-run: reason -->` (they call the real service)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "providers" / "bedrock.md"
BLOCK = re.compile(r"(<!-- not-run: [^>]+-->\n)?```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[bool, str]]:
    return [(bool(m.group(1)), m.group(2)) for m in BLOCK.finditer(PAGE.read_text())]


def test_the_page_has_runnable_examples_and_says_why_others_do_not_run() -> None:
    blocks = _blocks()
    assert sum(not skipped for skipped, _ in blocks) >= 3
    assert all("not-run:" in PAGE.read_text() for skipped, _ in blocks if skipped)


@pytest.mark.parametrize("index", [i for i, (skipped, _) in enumerate(_blocks()) if not skipped])
def test_each_runnable_block_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    exec(compile(_blocks()[index][1], f"{PAGE.name}[{index}]", "exec"), {})
