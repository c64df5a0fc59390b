"""A sampling mask that keeps every answer valid UTF-8, so no client ever sees U+FFFD.

Gemma's tokenizer falls back to single-byte tokens (`<0xD8>`) for text its pieces do not
cover, and GPT-2's byte-level pieces can hold half a character. A model pushed off its
favourite tokens (a repetition penalty, a high temperature) picks such bytes in orders that
decode to nothing: a continuation byte with no lead, a lead byte followed by a letter. The
guard knows the bytes of every token and, given what the answer has left unfinished, allows
only the tokens that continue (or, when nothing is pending, start) valid UTF-8 — the same
rule as llama.cpp's grammar-free partial-UTF-8 check, applied to every request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.bool_]
ANY_CONT = (0x80, 0xBF)


def _lead(byte: int) -> tuple[int, tuple[int, int]] | None:
    """(continuation bytes needed, range of the first one) for a lead byte; None if the
    byte cannot start a character. The narrow ranges exclude overlong forms and surrogates."""
    if byte < 0x80:
        return 0, ANY_CONT
    if 0xC2 <= byte <= 0xDF:
        return 1, ANY_CONT
    if byte == 0xE0:
        return 2, (0xA0, 0xBF)
    if byte == 0xED:
        return 2, (0x80, 0x9F)
    if 0xE1 <= byte <= 0xEF:
        return 2, ANY_CONT
    if byte == 0xF0:
        return 3, (0x90, 0xBF)
    if 0xF1 <= byte <= 0xF3:
        return 3, ANY_CONT
    if byte == 0xF4:
        return 3, (0x80, 0x8F)
    return None


@dataclass(frozen=True)
class TokenShape:
    """How one token's bytes sit in a UTF-8 stream."""

    lead_cont: int  # continuation bytes at its start (they finish a pending character)
    only_cont: bool  # the token is nothing but continuation bytes
    first: int  # its first byte (-1: no bytes, e.g. a special token)
    valid: bool  # the rest is valid UTF-8 up to a possibly unfinished last character
    need: int  # continuation bytes still missing after it
    next_range: tuple[int, int]  # allowed range of the next byte when need > 0


def shape_of(data: bytes) -> TokenShape:
    lead_cont = 0
    while lead_cont < len(data) and 0x80 <= data[lead_cont] <= 0xBF:
        lead_cont += 1
    first = data[0] if data else -1
    need, next_range, valid = 0, ANY_CONT, True
    for byte in data[lead_cont:]:
        if need:
            if not next_range[0] <= byte <= next_range[1]:
                valid = False
                break
            need, next_range = need - 1, ANY_CONT
            continue
        lead = _lead(byte)
        if lead is None:
            valid = False
            break
        need, next_range = lead
    only = lead_cont == len(data) and bool(data)
    return TokenShape(lead_cont, only, first, valid, need, next_range)


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable stand-ins for the 256 byte values."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def token_bytes(tokenizer: Any) -> list[bytes] | None:
    """The bytes each token id stands for, or None for a tokenizer scheme we do not know
    (then no guard is applied). Special tokens count as empty."""
    spec = json.loads(tokenizer.to_str())
    model = spec.get("model") or {}
    decoder = spec.get("decoder") or {}
    decoders = [decoder, *(decoder.get("decoders") or [])]
    byte_level = any(d.get("type") == "ByteLevel" for d in decoders)
    byte_fallback = bool(model.get("byte_fallback"))
    if not (byte_level or byte_fallback):
        return None
    specials = {t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
    alphabet = _bytes_to_unicode() if byte_level else {}
    table: list[bytes] = []
    for token_id in range(tokenizer.get_vocab_size(with_added_tokens=True)):
        piece = tokenizer.id_to_token(token_id)
        if piece is None or token_id in specials:
            table.append(b"")
        elif byte_fallback and len(piece) == 6 and piece.startswith("<0x") and piece[5] == ">":
            table.append(bytes([int(piece[3:5], 16)]))
        elif byte_level:
            table.append(bytes(alphabet.get(ch, 0x3F) for ch in piece))
        else:
            table.append(piece.replace("\u2581", " ").encode("utf-8"))
    return table


@dataclass
class Utf8Guard:
    """Precomputed per-token arrays; `allowed(state)` is one vectorized mask per step."""

    shapes: list[TokenShape]
    lead_cont: NDArray[np.int8] = field(init=False)
    only_cont: Mask = field(init=False)
    first: NDArray[np.int16] = field(init=False)
    valid: Mask = field(init=False)

    def __post_init__(self) -> None:
        s = self.shapes
        self.lead_cont = np.array([t.lead_cont for t in s], dtype=np.int8)
        self.only_cont = np.array([t.only_cont for t in s], dtype=bool)
        self.first = np.array([t.first for t in s], dtype=np.int16)
        self.valid = np.array([t.valid for t in s], dtype=bool)
        self._start: Mask = self.valid & (self.lead_cont == 0)  # nothing pending: the usual case

    @classmethod
    def for_table(cls, table: list[bytes] | None) -> Utf8Guard | None:
        """The guard for a `token_bytes` table; None (no guard) for an unknown scheme."""
        return None if table is None else cls([shape_of(b) for b in table])

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> Utf8Guard | None:
        return cls.for_table(token_bytes(tokenizer))

    def allowed(self, state: Utf8State) -> Mask:
        if state.need == 0:
            return self._start
        mask: Mask
        lo, hi = state.next_range
        finishes = self.lead_cont == state.need
        part = self.only_cont & (self.lead_cont < state.need)
        mask = self.valid & (finishes | part) & (self.first >= lo) & (self.first <= hi)
        return mask

    def advance(self, state: Utf8State, token: int) -> None:
        if not 0 <= token < len(self.shapes):
            return
        shape = self.shapes[token]
        if state.need and shape.only_cont and shape.lead_cont < state.need:
            state.need -= shape.lead_cont
            state.next_range = ANY_CONT
        else:
            state.need, state.next_range = shape.need, shape.next_range


@dataclass
class Utf8State:
    """What one answer has left unfinished."""

    need: int = 0
    next_range: tuple[int, int] = ANY_CONT
