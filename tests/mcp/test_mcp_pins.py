"""The pin file on its own: a broken file is a clear error naming it, and toolsets of several
servers sharing one file in one process never drop each other's pins."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from toolwire.errors import ConfigurationError
from toolwire.mcp._pins import PinStore, fingerprint

CONFLICTED = """{"version": 1, "servers": {"demo": {
<<<<<<< HEAD
  "add": {"sha256": "aa"}
=======
  "add": {"sha256": "bb"}
>>>>>>> theirs
}}}
"""


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (CONFLICTED, "is not valid JSON"),
        ('{"version": 1, "servers": ["demo"]}', "is not a pin file"),
        ('{"version": 1, "servers": {"demo": {"add": "aa"}}}', "is not a pin file"),
        ("[1, 2]", "is not a pin file"),
    ],
)
def test_a_broken_pin_file_is_a_configuration_error_naming_it(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "mcp-pins.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=why) as caught:
        PinStore("demo", path)
    assert str(path) in str(caught.value)


def test_an_empty_or_missing_pin_file_starts_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert PinStore("demo", empty).check("add", fingerprint("add", "Add.", {})) is None
    assert json.loads(empty.read_text())["servers"]["demo"]["add"]["description"] == "Add."
    assert PinStore("demo", tmp_path / "missing.json").check("add", fingerprint("add", "A.", {})) is None


def test_servers_sharing_a_pin_file_keep_each_others_pins(tmp_path: Path) -> None:
    # Each rewrite reads the other servers' sections first; two toolsets pinning at once (each on its
    # own background loop thread) must not drop one another's pins.
    path = tmp_path / "mcp-pins.json"
    stores = [PinStore(f"server{i}", path) for i in range(4)]
    start = threading.Barrier(len(stores))

    def pin_all(store: PinStore) -> None:
        start.wait()
        for n in range(40):
            store.check(f"tool{n}", fingerprint(f"tool{n}", store.server, {}))

    threads = [threading.Thread(target=pin_all, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    servers = json.loads(path.read_text())["servers"]
    assert {name: len(pins) for name, pins in servers.items()} == {f"server{i}": 40 for i in range(4)}
