from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.chat_format import Message
from persian_chat.server.generation import Generation, prompt_ids, sample_tokens, stream_text
from persian_chat.server.onnx_model import OnnxDecoder
from persian_chat.server.sampling import SamplingParams
from persian_chat.server.served_model import ServedModel, load_served_model

MESSAGES: list[Message] = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


@pytest.fixture(scope="module")
def served(tiny_served_dir: Path) -> tuple[ServedModel, OnnxDecoder]:
    model = load_served_model(tiny_served_dir)
    return model, OnnxDecoder(model.onnx_path, threads=1)


def test_temperature_zero_matches_the_plain_greedy_loop(
    served: tuple[ServedModel, OnnxDecoder],
) -> None:
    model, decoder = served
    generation, pieces = stream_text(model, decoder, MESSAGES, SamplingParams(temperature=0), 24)
    text = "".join(pieces)
    expected = decoder.greedy(prompt_ids(model, MESSAGES), 24, set(model.stop_ids))
    if expected and expected[-1] in model.stop_ids:
        expected = expected[:-1]
    assert generation.token_ids == expected
    assert text == model.tokenizer.decode(expected)
    assert generation.finish_reason in ("stop", "length")
    assert generation.prompt_tokens == len(prompt_ids(model, MESSAGES))


def test_same_seed_same_text(served: tuple[ServedModel, OnnxDecoder]) -> None:
    model, decoder = served

    def run(seed: int) -> list[int]:
        generation, pieces = stream_text(
            model, decoder, MESSAGES, SamplingParams(temperature=1.0, seed=seed), 20
        )
        list(pieces)
        return generation.token_ids

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_max_tokens_is_respected(served: tuple[ServedModel, OnnxDecoder]) -> None:
    model, decoder = served
    generation = Generation(prompt_tokens=0)
    tokens = list(
        sample_tokens(decoder, prompt_ids(model, MESSAGES), SamplingParams(temperature=0), 7,
                      frozenset(), generation)
    )  # fmt: skip
    assert len(tokens) == 7 and generation.finish_reason == "length"


def test_stop_string_ends_the_text_before_it(served: tuple[ServedModel, OnnxDecoder]) -> None:
    model, decoder = served
    _, pieces = stream_text(model, decoder, MESSAGES, SamplingParams(temperature=0), 40)
    full = "".join(pieces)
    assert len(full) >= 8, full
    stop = full[4:7]
    generation, pieces = stream_text(
        model, decoder, MESSAGES, SamplingParams(temperature=0), 40, stop=(stop,)
    )
    assert "".join(pieces) == full[: full.find(stop)]
    assert generation.finish_reason == "stop"
