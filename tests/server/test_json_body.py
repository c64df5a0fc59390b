from __future__ import annotations

import pytest

from persian_chat.server.api_errors import ApiError
from persian_chat.server.json_body import nesting_depth, parse_body


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
