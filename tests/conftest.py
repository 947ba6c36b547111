"""Shared test configuration. tests/ has no __init__.py, so pytest puts it on sys.path and the
helpers in tests/replay.py import as `replay`."""

from __future__ import annotations

from replay import replay  # noqa: F401  (pytest fixture: replay(provider_dir, name) -> Replay)
