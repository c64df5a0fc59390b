from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from persian_chat.server.engine.sampling import SamplingParams, next_token
from persian_chat.server.engine.utf8_guard import Utf8Guard, Utf8State, shape_of, token_bytes


def test_shapes_of_byte_strings() -> None:
    persian = "س".encode()  # D8 B3
    assert shape_of(persian[:1]).need == 1 and shape_of(persian[:1]).valid
    assert shape_of(persian[1:]).only_cont and shape_of(persian[1:]).lead_cont == 1
    assert shape_of(b"\xc0").valid is False  # never a lead byte
    assert shape_of("سلام".encode()).need == 0
    assert shape_of(b"\xe0").next_range == (0xA0, 0xBF)  # no overlong forms
    assert shape_of(b"\xe0\x80").valid is False


def _tokenizer(served: Path) -> Tokenizer:
    return Tokenizer.from_file(str(served / "tokenizer.json"))


def _random_walk(tokenizer: Tokenizer, guard: Utf8Guard | None, steps: int) -> str:
    """Sample from random logits that favour the byte tokens, as a penalised model does."""
    table = token_bytes(tokenizer)
    assert table is not None
    single_bytes = np.array([len(b) == 1 and b[0] >= 0x80 for b in table])
    rng = np.random.default_rng(0)
    params = SamplingParams(temperature=1.0, seed=1)
    sampler = params.generator()
    state, ids = Utf8State(), []
    for _ in range(steps):
        logits = rng.normal(size=len(table)) + 4.0 * single_bytes
        allowed = guard.allowed(state) if guard is not None else None
        token = next_token(logits, ids, params, sampler, allowed=allowed)
        if guard is not None:
            guard.advance(state, token)
        ids.append(token)
    return str(tokenizer.decode(ids, skip_special_tokens=True))


@pytest.mark.parametrize("fixture", ["tiny_gemma_served_dir", "tiny_served_dir"])
def test_guarded_answers_never_contain_replacement_characters(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    tokenizer = _tokenizer(request.getfixturevalue(fixture))
    guard = Utf8Guard.for_tokenizer(tokenizer)
    assert guard is not None
    unguarded = _random_walk(tokenizer, None, 400)
    assert "\ufffd" in unguarded  # the walk does produce broken bytes without the guard
    # a walk cut at its last step may stop inside a character: the server's detokenizer
    # drops that unfinished tail (tested in test_detokenizer.py); nothing else may break
    guarded = _random_walk(tokenizer, guard, 400).rstrip("\ufffd")
    assert "\ufffd" not in guarded
    assert sum(0x600 <= ord(c) <= 0x6FF for c in guarded) > 10  # it did write Persian


def test_gemma_byte_fallback_tokens_are_read_as_bytes(tiny_gemma_served_dir: Path) -> None:
    tokenizer = _tokenizer(tiny_gemma_served_dir)
    table = token_bytes(tokenizer)
    assert table is not None
    byte_id = tokenizer.token_to_id("<0xD8>")
    assert table[byte_id] == b"\xd8"
    guard = Utf8Guard.for_tokenizer(tokenizer)
    assert guard is not None
    state = Utf8State()
    assert not guard.allowed(state)[tokenizer.token_to_id("<0xB3>")]  # no lone continuation
    guard.advance(state, byte_id)
    allowed = guard.allowed(state)
    assert allowed[tokenizer.token_to_id("<0xB3>")]  # D8 B3 is «س»
    assert not allowed[byte_id]  # D8 D8 is not UTF-8
    end_of_turn = tokenizer.token_to_id("<end_of_turn>")
    assert not allowed[end_of_turn]  # the answer may not end inside a character
