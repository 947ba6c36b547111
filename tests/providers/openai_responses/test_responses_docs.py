"""docs/responses-api.md: every python block not marked `<!-- not-run: reason -->` runs offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "responses-api.md"
BLOCK = re.compile(r"(<!-- not-run:[^>]*-->\n)?```python\n(.*?)```", re.S)
RUNNABLE = [code for marker, code in BLOCK.findall(PAGE.read_text(encoding="utf-8")) if not marker]


def test_the_page_has_runnable_and_marked_blocks() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert RUNNABLE and len(BLOCK.findall(text)) == text.count("```python")


@pytest.mark.parametrize("code", RUNNABLE)
def test_block_runs_offline(
    code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # the page's paths are relative to the repository root
    exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_block"})
    assert "Pundora" in capsys.readouterr().out
