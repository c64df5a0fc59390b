from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from persian_chat.server.text.detokenizer import REPLACEMENT, IncrementalDecoder
from tests.conftest import TinyGemma

TEXTS = [
    "سلام! حال شما چطور است؟ من خوبم.",
    "کتاب‌ها را روی میز گذاشتم و ۱۲۳ صفحه خواندم.",
    "Persian و English در یک خط 🙂 و 漢字",
]


@pytest.fixture(params=["gpt2", "gemma"])
def tokenizer(
    request: pytest.FixtureRequest, tiny_gpt2_dir: Path, tiny_gemma: TinyGemma
) -> Tokenizer:
    directory = tiny_gpt2_dir if request.param == "gpt2" else tiny_gemma.model_dir
    return Tokenizer.from_file(str(directory / "tokenizer.json"))


@pytest.mark.parametrize("text", TEXTS)
def test_streamed_pieces_are_whole_characters_and_add_up(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(token) for token in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == tokenizer.decode(ids) == text
    assert not any(REPLACEMENT in piece for piece in pieces)


def test_split_letters_are_held_back_until_complete(tokenizer: Tokenizer) -> None:
    # an emoji is 4 UTF-8 bytes: byte-level and byte-fallback tokenizers split it
    ids = tokenizer.encode("🙂", add_special_tokens=False).ids
    assert len(ids) > 1
    decoder = IncrementalDecoder(tokenizer)
    assert [decoder.push(t) for t in ids[:-1]] == [""] * (len(ids) - 1)
    assert decoder.push(ids[-1]) == "🙂"
    assert decoder.flush() == ""


def test_an_answer_cut_inside_a_character_drops_the_unfinished_bytes(
    tokenizer: Tokenizer,
) -> None:
    ids = tokenizer.encode("سلام س", add_special_tokens=False).ids
    whole = "".join(IncrementalDecoder(tokenizer).push(i) for i in ids)
    byte = tokenizer.token_to_id("<0xD8>") if tokenizer.token_to_id("<0xD8>") is not None else None
    if byte is None:  # byte-level BPE: the first byte of «س» as its own piece
        byte = tokenizer.token_to_id(bytes([0xD8]).decode("latin-1").translate({0xD8: "Ø"}))
    assert byte is not None
    decoder = IncrementalDecoder(tokenizer)
    text = "".join(decoder.push(i) for i in [*ids, byte]) + decoder.flush()
    assert REPLACEMENT not in text and text.startswith(whole.rstrip("س").rstrip())
