"""Tool pinning: a tool's name, description and input schema are fingerprinted the first time the
client sees it; a later change is refused until someone approves it.

This is the defence against a server that changes a tool after it was reviewed (a "rug pull": new
instructions hidden in a description, a new argument that exfiltrates data). The pins live in
memory, and optionally in a JSON file a team commits, keyed by server then by the server's own
tool name:

    {"version": 1, "servers": {"<server>": {"<tool>": {"sha256": "...", "description": "...",
                                                       "inputSchema": {...}}}}}
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["PinStore", "describe_change", "fingerprint"]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(name: str, description: str, input_schema: Any) -> dict[str, Any]:
    """What is pinned for one tool: its digest plus the pinned text, so a change can be named."""
    digest = hashlib.sha256(_canonical([name, description, input_schema]).encode()).hexdigest()
    return {"sha256": digest, "description": description, "inputSchema": input_schema}


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A sentence naming what changed between two fingerprints."""
    changes: list[str] = []
    if old.get("description") != new.get("description"):
        changes.append(
            f"description changed from {_short(str(old.get('description') or ''))!r} "
            f"to {_short(str(new.get('description') or ''))!r}"
        )
    old_schema, new_schema = old.get("inputSchema") or {}, new.get("inputSchema") or {}
    if _canonical(old_schema) != _canonical(new_schema):
        changes.append("input schema changed (" + _schema_diff(old_schema, new_schema) + ")")
    return "; ".join(changes) or "definition changed"


def _schema_diff(old: Any, new: Any) -> str:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "replaced"
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    parts = []
    added = [p for p in new_props if p not in old_props]
    removed = [p for p in old_props if p not in new_props]
    changed = [
        p for p in new_props if p in old_props and _canonical(new_props[p]) != _canonical(old_props[p])
    ]
    if added:
        parts.append("new arguments: " + ", ".join(added))
    if removed:
        parts.append("removed arguments: " + ", ".join(removed))
    if changed:
        parts.append("changed arguments: " + ", ".join(changed))
    if sorted(old.get("required") or []) != sorted(new.get("required") or []):
        parts.append(f"required {sorted(old.get('required') or [])} -> {sorted(new.get('required') or [])}")
    if not parts:
        keys = sorted(k for k in set(old) | set(new) if _canonical(old.get(k)) != _canonical(new.get(k)))
        parts.append("keywords " + ", ".join(keys))
    return "; ".join(parts)


_FILE_LOCKS: dict[Path, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    """One lock per pin file in this process: toolsets of several servers may share a file, and each
    rewrite reads the others' sections first (without the lock, two rewrites could drop one)."""
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), threading.Lock())


def _read(path: Path) -> dict[str, Any]:
    """The pin file's content, checked enough that a broken file (a bad merge, say) is a clear
    error naming it rather than a crash deep inside a listing or an approval."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ConfigurationError(f"MCP pin file {path} is not valid JSON: {exc}") from None
    servers = data.get("servers", {}) if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or not isinstance(servers, dict)
        or not all(
            isinstance(pins, dict) and all(isinstance(pin, dict) and "sha256" in pin for pin in pins.values())
            for pins in servers.values()
        )
    ):
        raise ConfigurationError(
            f"MCP pin file {path} is not a pin file: expected "
            '{"version": 1, "servers": {"<server>": {"<tool>": {"sha256": ...}}}}'
        )
    return data


class PinStore:
    """Pins of one server. Thread-safe; the file (if any) is rewritten atomically on each change."""

    def __init__(self, server: str, path: str | os.PathLike[str] | None = None) -> None:
        self.server = server
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._pins: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.exists():
            self._pins = dict(_read(self.path).get("servers", {}).get(server) or {})

    def check(self, tool: str, current: dict[str, Any]) -> str | None:
        """None when `current` matches the pin (a tool seen for the first time is pinned now);
        else what changed."""
        with self._lock:
            pinned = self._pins.get(tool)
            if pinned is None:
                self._pins[tool] = current
                self._save()
                return None
            if pinned.get("sha256") == current["sha256"]:
                return None
            return describe_change(pinned, current)

    def accept(self, tool: str, current: dict[str, Any]) -> None:
        """Approve the tool as it is now."""
        with self._lock:
            self._pins[tool] = current
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        with _file_lock(self.path):
            data: dict[str, Any] = {"version": 1, "servers": {}}
            if self.path.exists():
                data = _read(self.path) or data
                data.setdefault("servers", {})
            data["servers"][self.server] = dict(sorted(self._pins.items()))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
                handle.write("\n")
            os.replace(tmp, self.path)
