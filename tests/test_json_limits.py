"""`toolwire._json.loads(lenient=True)` skips its per-integer hook unless the text has a digit run
past the interpreter's limit: both paths must give the same values and the same markers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from toolwire import _json


@pytest.fixture
def digit_limit() -> Iterator[None]:
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no integer digit limit on this interpreter")
    before = sys.get_int_max_str_digits()
    yield
    sys.set_int_max_str_digits(before)


def test_ordinary_body_decodes_as_json_does() -> None:
    text = json.dumps({"usage": {"inputTokens": 420, "n": -7, "f": 1.5}, "a": [1, 2, {"b": 0}]})
    assert _json.loads(text, lenient=True) == json.loads(text)
    assert not _json._may_hold_long_int(text)


def test_long_integer_is_marked_and_its_sibling_kept(digit_limit: None) -> None:
    sys.set_int_max_str_digits(640)
    text = '{"bad": ' + "9" * 641 + ', "ok": ' + "9" * 640 + ', "neg": -' + "1" * 641 + "}"
    value = _json.loads(text, lenient=True)
    assert value == {"bad": _json.TOO_LONG, "ok": int("9" * 640), "neg": _json.TOO_LONG}
    with pytest.raises(_json.JSONLimitError):
        _json.loads(text)


def test_long_digit_run_inside_a_string_is_not_an_integer(digit_limit: None) -> None:
    sys.set_int_max_str_digits(640)
    text = json.dumps({"s": "7" * 5000, "n": 12})
    assert _json._may_hold_long_int(text)  # the pre-scan cannot tell: the hooked path decides
    assert _json.loads(text, lenient=True) == {"s": "7" * 5000, "n": 12}


def test_limit_changed_at_run_time_is_followed(digit_limit: None) -> None:
    text = '{"n": ' + "5" * 700 + "}"
    sys.set_int_max_str_digits(640)
    assert _json.loads(text, lenient=True) == {"n": _json.TOO_LONG}
    sys.set_int_max_str_digits(1000)
    assert _json.loads(text, lenient=True) == {"n": int("5" * 700)}
    sys.set_int_max_str_digits(0)  # no limit at all
    assert _json.loads(text, lenient=True) == {"n": int("5" * 700)}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, null, true, "\\u00e9"]}',
        " {}",  # leading and trailing whitespace: the full decoder's business
        "{} ",
        "[1] [2]",  # extra data
        "{",
        "",
        "\ufeff{}",  # a byte order mark
        "NaN",
        '"s"',
        "[1,]",
    ],
)
def test_the_one_call_decoder_answers_as_json_loads(text: str) -> None:
    def outcome(decode: Any) -> Any:
        try:
            return ("value", repr(decode(text)))
        except json.JSONDecodeError as exc:
            return ("error", exc.msg, exc.pos)

    assert outcome(_json._decode) == outcome(json.loads)
    assert outcome(_json.loads) == outcome(json.loads)


def test_the_shortest_text_that_can_hold_a_too_long_integer_is_still_checked(digit_limit: None) -> None:
    sys.set_int_max_str_digits(640)  # the lowest limit an interpreter accepts
    assert _json.loads("9" * 641, lenient=True) == _json.TOO_LONG
    assert _json.loads("9" * 640, lenient=True) == int("9" * 640)
