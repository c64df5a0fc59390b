"""Strict, bounded JSON parsing for request bodies.

Python's `json` accepts what no client should send and fails on some inputs with errors that
are not `JSONDecodeError`: nesting 10,000 deep raises RecursionError, a 100,000-digit
integer raises ValueError, `NaN` and `Infinity` are accepted, and a duplicated key silently
keeps the last value. Each of these becomes a 400 naming the problem, before any model code
sees the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from persian_chat.server.api_errors import ApiError

MAX_INT_DIGITS = 20  # int64 and a sign fit; OpenAI's seed is an int64
# a JSON string (skipped whole) or one bracket; only brackets change the depth
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nesting_depth(body: bytes) -> int:
    depth = deepest = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ApiError(400, f"integer literal over {MAX_INT_DIGITS} digits", code="invalid_json")
    return int(text)


def _constant(name: str) -> Any:
    raise ApiError(400, f"{name} is not valid JSON", code="invalid_json")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ApiError(400, f"duplicate key {key[:64]!r}", param=key[:64], code="duplicate_key")
        result[key] = value
    return result


def parse_body(body: bytes, max_depth: int) -> Any:
    """The parsed body, or ApiError 400 (invalid_json / duplicate_key / too deep)."""
    if nesting_depth(body) > max_depth:
        raise ApiError(400, f"JSON nested deeper than {max_depth} levels", code="invalid_json")
    try:
        return json.loads(
            body, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_object
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", code="invalid_json") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ApiError(400, "JSON nested too deep", code="invalid_json") from None
