"""Shared test configuration. tests/ has no __init__.py, so pytest puts it on sys.path and the
helpers in tests/support/ import as `support.<name>` (e.g. `support.replay`)."""

from __future__ import annotations

from support.replay import replay  # noqa: F401  (pytest fixture: replay(provider_dir, name) -> Replay)
