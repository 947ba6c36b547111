"""`provider_data` keyed by provider name, with the old top-level keys readable for one release.

Until 0.x the OpenAI family (and Gemini's filter results) kept `content_filter_results`,
`prompt_filter_results`, `prompt_annotations`, `reasoning_content`, `reasoning` and `thinking` at
the top level of `provider_data`, while every other entry sat under the provider's name. They now
sit under the name too (`provider_data["azure_openai"]["content_filter_results"]`). A response's
`provider_data` is a `ProviderData`: a plain `dict` holding only the new shape (so it serializes,
pickles and compares as before), whose item reads of a legacy key forward to the new place with a
`DeprecationWarning` that names it. Histories recorded in the old shape are read by the providers
themselves (`legacy_entry`), without a warning: the user did nothing wrong by passing them back.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["LEGACY_KEYS", "ProviderData", "find_entry", "keyed", "legacy_entry", "own_entry"]

# the keys that used to sit at the top level of provider_data (removed in the next release)
LEGACY_KEYS = frozenset(
    {
        "content_filter_results",
        "prompt_filter_results",
        "prompt_annotations",
        "reasoning_content",
        "reasoning",
        "thinking",
    }
)

_MISSING = object()


class ProviderData(dict[str, Any]):
    """A response's `provider_data`: a dict keyed by provider name, with the deprecated top-level
    reads (`data["content_filter_results"]`, `.get(...)`, `in`) forwarded to `data[owner][key]`."""

    # the entry the legacy keys forward to; "" (e.g. after `dataclasses.asdict`) forwards nothing
    owner: str = ""

    def _legacy(self, key: object) -> Any:
        if not isinstance(key, str) or key not in LEGACY_KEYS or dict.__contains__(self, key):
            return _MISSING
        entry = dict.get(self, self.owner) if self.owner else None
        if not isinstance(entry, Mapping) or key not in entry:
            return _MISSING
        warnings.warn(
            f'provider_data["{key}"] is deprecated and will be removed in the next release; '
            f'read provider_data["{self.owner}"]["{key}"]',
            DeprecationWarning,
            stacklevel=3,
        )
        return entry[key]

    def __getitem__(self, key: str) -> Any:
        value = self._legacy(key)
        return dict.__getitem__(self, key) if value is _MISSING else value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        value = self._legacy(key)
        return dict.get(self, key, default) if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._legacy(key) is not _MISSING

    def copy(self) -> ProviderData:
        return keyed(self, self.owner)


def keyed(data: Mapping[str, Any], owner: str) -> ProviderData:
    """`data` (already in the new shape) as a `ProviderData` whose legacy keys read `data[owner]`."""
    result = ProviderData(data)
    result.owner = owner
    return result


def own_entry(data: Mapping[str, Any] | None, owner: str) -> Mapping[str, Any]:
    """`data[owner]` when it is a mapping, else an empty one (other providers' entries ignored)."""
    value = (data or {}).get(owner)
    return value if isinstance(value, Mapping) else {}


def legacy_entry(data: Mapping[str, Any] | None, owner: str, key: str) -> Any:
    """`data[owner][key]`, or the top-level `data[key]` of a history recorded before the move
    (read without a warning: it is the library reading what the user passed back)."""
    own = own_entry(data, owner)
    if key in own:
        return own[key]
    if data is None or key not in LEGACY_KEYS:
        return None
    return dict.get(data, key) if isinstance(data, dict) else data.get(key)


def find_entry(data: Mapping[str, Any] | None, owner: str, key: str) -> Any:
    """`key` from `data[owner]`, else from the first other provider's entry that has it (a wire
    keyed by its own name, such as the Responses API's `openai_responses`), else `legacy_entry`."""
    if key in own_entry(data, owner):
        return own_entry(data, owner)[key]
    for value in (data or {}).values():
        if isinstance(value, Mapping) and key in value:
            return value[key]
    return legacy_entry(data, owner, key)
