"""docs/early-tools.md: every python block not marked `<!-- not-run: reason -->` runs offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "early-tools.md"
BLOCK = re.compile(r"(<!-- not-run:[^>]*-->\n)?```python\n(.*?)```", re.S)
BLOCKS = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
RUNNABLE = [code for marker, code in BLOCKS if not marker]


def test_every_block_is_runnable_or_marked() -> None:
    assert RUNNABLE and len(BLOCKS) == PAGE.read_text(encoding="utf-8").count("```python")


@pytest.mark.parametrize("code", RUNNABLE)
def test_block_runs_offline(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_block"})
    out = capsys.readouterr().out
    if "session.stream" in code:
        assert "search_web: started early=True" in out and "send_email: started early=False" in out
        assert out.rstrip().endswith("Sent.")
