"""Every Python block of docs/integrations.md runs, offline, in a fresh interpreter (a block marked
`<!-- not-run: reason -->` is skipped by design); the printed SSE matches the text shown after it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
BLOCK = re.compile(r"(<!-- not-run:[^>]*-->\n)?```(\w+)\n(.*?)```", re.S)
BLOCKS = list(BLOCK.finditer(DOC.read_text(encoding="utf-8")))
PYTHON = [m.group(3) for m in BLOCKS if m.group(2) == "python" and not m.group(1)]


def test_the_doc_has_runnable_blocks_and_marks_the_others() -> None:
    assert len(PYTHON) >= 5
    assert all(m.group(1) for m in BLOCKS if m.group(2) not in {"python", "text"})


@pytest.mark.parametrize("code", PYTHON, ids=[f"block{i + 1}" for i in range(len(PYTHON))])
def test_block_runs(code: str, tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    after = [m.group(3) for m in BLOCKS].index(code) + 1
    if after < len(BLOCKS) and BLOCKS[after].group(2) == "text":
        assert done.stdout == BLOCKS[after].group(3)
