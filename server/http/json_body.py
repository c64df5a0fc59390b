"""Strict, bounded JSON parsing for request bodies, in time linear in the body.

Python's `json` accepts what no client should send and fails on some inputs with errors that
are not `JSONDecodeError`: nesting 10,000 deep raises RecursionError, a 100,000-digit
integer raises ValueError, `NaN` and `Infinity` are accepted, and a duplicated key silently
keeps the last value. Each of these becomes a 400 naming the problem (and the field, where
there is one), before any model code sees the body.

Every step is linear in the body, because the body is attacker-chosen and a regex runs
holding the GIL (so even in a worker thread a slow scan stalls the event loop): the depth
scan's string pattern is unrolled (no two ways to match a character) and an unclosed string
runs to the end of the body in one match, never re-scanned from each later quote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from persian_chat.server.http.api_errors import ApiError

MAX_INT_DIGITS = 20  # int64 and a sign fit; OpenAI's seed is an int64
# a JSON string, closed or not: removed before brackets are counted
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_STEP = np.zeros(256, dtype=np.int32)  # what each byte does to the depth
_STEP[[ord("["), ord("{")]], _STEP[[ord("]"), ord("}")]] = 1, -1


@dataclass(frozen=True)
class _Refused:
    """A value the parser met but must not accept; reported with its field after parsing."""

    problem: str


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting outside strings (in C and numpy: a few ms at 256 KiB)."""
    outside = np.frombuffer(_STRING.sub(b"", body), dtype=np.uint8)
    if not outside.size:
        return 0
    return max(0, int(np.cumsum(_STEP[outside]).max()))


class _Hooks:
    """json.loads hooks for one body; `refused` tells whether the tree needs a walk."""

    def __init__(self) -> None:
        self.refused = False

    def integer(self, text: str) -> int | _Refused:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            self.refused = True
            return _Refused(f"integer literal over {MAX_INT_DIGITS} digits")
        return int(text)

    def constant(self, name: str) -> _Refused:
        self.refused = True
        return _Refused(f"{name} is not valid JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ApiError(400, f"duplicate key {key[:64]!r}", param=key[:64], code="duplicate_key")
        result[key] = value
    return result


def _check_refused(value: Any, path: tuple[str, ...] = ()) -> None:
    """ApiError 400 naming the field of the first refused value (depth is bounded first)."""
    if isinstance(value, _Refused):
        param = ".".join(path)[:128] or None
        message = f"{param}: {value.problem}" if param else value.problem
        raise ApiError(400, message, param=param, code="invalid_json")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_refused(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_refused(item, (*path, str(index)))


def parse_body(body: bytes, max_depth: int) -> Any:
    """The parsed body, or ApiError 400 (invalid_json / duplicate_key / too deep)."""
    if nesting_depth(body) > max_depth:
        raise ApiError(400, f"JSON nested deeper than {max_depth} levels", code="invalid_json")
    hooks = _Hooks()
    try:
        parsed = json.loads(
            body, parse_int=hooks.integer, parse_constant=hooks.constant, object_pairs_hook=_object
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", code="invalid_json") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ApiError(400, "JSON nested too deep", code="invalid_json") from None
    if hooks.refused:
        _check_refused(parsed)
    return parsed
