"""One JSON decoder with limits, for everything a model or a server sends.

`json.loads` has two ways to fail that are not `JSONDecodeError`: nesting deeper than the
interpreter's recursion limit raises `RecursionError`, and an integer longer than Python's digit
limit (4,300 digits by default) raises a plain `ValueError`. Both came straight from hostile model
output in issue 16 and ended a whole turn. Here both become `JSONLimitError` (a `ValueError`), and
nesting is capped well below the recursion limit, so that what was accepted can still be
serialized into the next request, the recorder and traces without hitting the limit there.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["BODY_MAX_DEPTH", "MAX_DEPTH", "JSONLimitError", "depth_error", "loads"]

# Deeper than any real tool schema or response; far below the default recursion limit (1,000),
# which json.dumps of the next request also has to stay under.
MAX_DEPTH = 128
# A whole response body or stream event: deeper than one call's arguments may be, since those are
# checked per call (`ToolCall.from_raw`) so that one deep call fails alone.
BODY_MAX_DEPTH = 200


class JSONLimitError(ValueError):
    """JSON that is well-formed but past a limit (nesting depth, integer digits)."""


def _digit_limit() -> int:
    getter = getattr(sys, "get_int_max_str_digits", None)
    return int(getter()) if getter is not None else 0


def _scan_depth(text: str, limit: int) -> int | None:
    """The position where nesting first passes `limit` (outside strings), or None."""
    depth = 0
    in_string = escaped = False
    for pos, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return pos
        elif char in "]}":
            depth -= 1
    return None


# What `loads(..., lenient=True)` puts where a value was past a limit; `depth_error` reports it.
TOO_DEEP = "\x00toolwire: value nested too deeply"
TOO_LONG = "\x00toolwire: integer too long"


def _cut_deep(text: str, limit: int) -> str:
    """`text` with every container that starts below depth `limit` replaced by `TOO_DEEP`."""
    out: list[str] = []
    depth = 0
    kept_until = 0
    cut_start: int | None = None
    in_string = escaped = False
    for pos, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == limit + 1 and cut_start is None:
                cut_start = pos
        elif char in "]}":
            depth -= 1
            if depth == limit and cut_start is not None:
                out.append(text[kept_until:cut_start])
                out.append(json.dumps(TOO_DEEP))
                kept_until, cut_start = pos + 1, None
    out.append(text[kept_until:])
    return "".join(out)


def _int_or_marker(digits: str) -> Any:
    limit = _digit_limit()
    if limit and len(digits.lstrip("-")) > limit:
        return TOO_LONG
    return int(digits)


_long_runs: tuple[int, re.Pattern[str] | None] = (0, None)
# The lowest digit limit an interpreter accepts (`sys.set_int_max_str_digits` refuses less but 0):
# a text no longer than this cannot hold an integer past the limit, whatever it is set to.
_LOWEST_DIGIT_LIMIT = getattr(sys.int_info, "str_digits_check_threshold", 0)


def _may_hold_long_int(text: str) -> bool:
    """Whether `text` could hold an integer past the digit limit: a run of more digits than the
    limit somewhere (in a string or not). Almost every body has none, and then `json.loads` runs
    without a Python hook per integer (that hook was most of the decoding time of a response)."""
    global _long_runs
    limit = _digit_limit()
    if not limit or len(text) <= limit:
        return False
    if _long_runs[0] != limit:  # the limit can be changed at run time (sys.set_int_max_str_digits)
        _long_runs = (limit, re.compile(f"[0-9]{{{limit + 1}}}"))
    pattern = _long_runs[1]
    assert pattern is not None
    return pattern.search(text) is not None


# the C scanner that json.loads ends in (set by JSONDecoder.__init__, not in its type stubs)
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _decode(text: str) -> Any:
    """`json.loads(text)`, one C call for a document without surrounding whitespace (a stream
    event's data, a compact body); anything else, errors included, goes through `json.loads`,
    which raises exactly what it always did."""
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:  # leading whitespace, a BOM, empty text: json.loads says which
        return json.loads(text)
    if end != len(text):  # trailing whitespace, or extra data after the document
        return json.loads(text)
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, lenient: bool = False) -> Any:
    """`json.loads`, raising `JSONLimitError` for nesting past `max_depth` or an integer past the
    interpreter's digit limit (and `json.JSONDecodeError` for malformed text, as before).

    `lenient` (whole response bodies): a subtree past `max_depth` or an over-long integer is
    replaced by a marker instead, so one hostile tool call is reported on that call alone
    (`ToolCall.from_raw` -> `depth_error`) while its siblings still run."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    # counting brackets is C-speed; the exact scan only runs when nesting could be too deep
    if text.count("[") + text.count("{") > max_depth:
        if lenient:
            text = _cut_deep(text, max_depth)
        else:
            pos = _scan_depth(text, max_depth)
            if pos is not None:
                raise JSONLimitError(f"JSON nested deeper than {max_depth} levels (at position {pos})")
    try:
        if lenient and len(text) > _LOWEST_DIGIT_LIMIT and _may_hold_long_int(text):
            return json.loads(text, parse_int=_int_or_marker)
        return _decode(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JSONLimitError("JSON nested too deeply to decode") from None
    except ValueError as exc:
        # "Exceeds the limit (4300 digits) for integer string conversion"
        limit = _digit_limit()
        raise JSONLimitError(f"JSON holds an integer longer than {limit or 'the'} digits ({exc})") from None


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _flat(value: dict[Any, Any]) -> bool:
    children = value.values()
    if TOO_DEEP in children or TOO_LONG in children:
        return False
    return all(type(child) in _PLAIN for child in children)


def depth_error(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why an already-decoded value (Anthropic `input`, Gemini `args`) is past the limits, or None.
    Iterative, so a value too deep for recursion is measured without recursing."""
    if type(value) is dict and max_depth >= 1 and _flat(value):
        return None  # most arguments: one object of plain values, none of them a marker
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is TOO_DEEP or item == TOO_DEEP:
            return f"arguments nested deeper than the limit ({max_depth} levels)"
        if item is TOO_LONG or item == TOO_LONG:
            return f"arguments hold an integer longer than the limit ({_digit_limit()} digits)"
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return f"arguments nested deeper than {max_depth} levels"
        stack.extend((child, depth + 1) for child in children)
    return None
