from __future__ import annotations

import pytest

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.json_body import nesting_depth, parse_body


def test_valid_body_parses() -> None:
    assert parse_body(b'{"a": [1, {"b": "[[[{"}], "c": -5}', 8) == {
        "a": [1, {"b": "[[[{"}],
        "c": -5,
    }


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert nesting_depth(b'{"x": "[[[[[[", "y": [[1]]}') == 3
    assert nesting_depth(b'"\\"[[["') == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "invalid_json"),  # RecursionError before
        (b'{"max_tokens": ' + b"9" * 100_000 + b"}", "invalid_json"),  # ValueError before
        (b'{"temperature": NaN}', "invalid_json"),
        (b'{"temperature": Infinity}', "invalid_json"),
        (b'{"seed": 1, "seed": 2}', "duplicate_key"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
def test_bad_bodies_are_400(body: bytes, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_body(body, 32)
    assert caught.value.status == 400 and caught.value.code == code


def test_duplicate_key_is_named() -> None:
    with pytest.raises(ApiError) as caught:
        parse_body(b'{"messages": [{"role": "user", "role": "assistant"}]}', 8)
    assert caught.value.param == "role"


def nested(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


def test_depth_limit_is_exact() -> None:
    assert parse_body(nested(32), 32) is not None
    with pytest.raises(ApiError) as caught:
        parse_body(nested(33), 32)
    assert caught.value.code == "invalid_json" and "deeper than 32" in caught.value.message


@pytest.mark.parametrize("sign", ["", "-"])
def test_integer_limit_is_exact_and_names_the_field(sign: str) -> None:
    twenty = sign + "9" * 20
    assert parse_body(b'{"seed": ' + twenty.encode() + b"}", 8) == {"seed": int(twenty)}
    with pytest.raises(ApiError) as caught:
        parse_body(b'{"seed": ' + (twenty + "9").encode() + b"}", 8)
    assert caught.value.param == "seed" and "over 20 digits" in caught.value.message


def test_refused_values_name_their_path() -> None:
    body = b'{"messages": [{"role": "user"}, {"n": [1, NaN]}]}'
    with pytest.raises(ApiError) as caught:
        parse_body(body, 8)
    assert caught.value.param == "messages.1.n.1"


@pytest.mark.parametrize(
    "body",
    [
        b'"' + b'\\"' * 32_000,  # an unclosed string of escaped quotes: quadratic before
        b'"' + b'\\"' * (128 * 1024 - 1),  # the same at the 256 KiB body limit
        b'"' * (256 * 1024),  # every byte opens or closes a string
        b'["' * (128 * 1024),  # strings that never close inside deep brackets
        b'"' + b"\\" * (256 * 1024 - 1),  # a run of escapes that never ends
    ],
)
def test_adversarial_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_body(body, 32)
    assert caught.value.status == 400


def test_unclosed_string_hides_brackets_after_it() -> None:
    assert nesting_depth(b'["' + b"[" * 100) == 1
    assert nesting_depth(b'["\\\\"' + b"[" * 3) == 4  # an escaped backslash closes nothing
