from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from persian_chat.chat_format import Message
from persian_chat.server.engine.core import Engine
from persian_chat.server.engine.generation import GenerationRequest
from persian_chat.server.engine.sampling import SamplingParams
from persian_chat.server.http.runtime import build_engine
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.text.prompt import prompt_ids
from persian_chat.server.text.served_model import ServedModel, load_served_model
from persian_chat.server.text.stream import StreamStats, stream_text

MESSAGES: list[Message] = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


@pytest.fixture(scope="module")
def served(tiny_served_dir: Path) -> Iterator[tuple[ServedModel, Engine]]:
    model = load_served_model(tiny_served_dir)
    engine = Engine(load_decoder(model.onnx_path, threads=1), model.context_length)
    engine.start()
    yield model, engine
    engine.shutdown(0)
    engine.join(10)


def generate(
    served: tuple[ServedModel, Engine],
    max_tokens: int,
    stop: tuple[str, ...] = (),
    logprobs: int | None = None,
) -> tuple[StreamStats, list[str]]:
    model, engine = served
    prompt = prompt_ids(model, MESSAGES)
    params = SamplingParams(temperature=0)
    request = GenerationRequest(prompt, params, max_tokens, model.stop_ids, logprobs=logprobs)

    async def main() -> tuple[StreamStats, list[str]]:
        sequence = engine.submit(request, asyncio.get_running_loop())
        generation = StreamStats(prompt_tokens=len(prompt))
        return generation, [p async for p in stream_text(sequence, model, stop, generation)]

    return asyncio.run(main())


def test_text_is_the_decoded_greedy_tokens_in_whole_characters(
    served: tuple[ServedModel, Engine],
) -> None:
    model, engine = served
    generation, pieces = generate(served, 24)
    expected = engine.decoder.greedy(prompt_ids(model, MESSAGES), 24, set(model.stop_ids))
    if expected and expected[-1] in model.stop_ids:
        expected = expected[:-1]
    # this engine has no UTF-8 guard, so the random model may end on broken bytes: the
    # stream drops such an unfinished tail (U+FFFD) instead of showing it
    assert "".join(pieces) == model.tokenizer.decode(expected).rstrip("\ufffd")
    # a random model may emit invalid byte sequences, but no piece ends inside a character
    assert not any(p.endswith("\ufffd") for p in pieces[:-1])
    assert generation.completion_tokens == len(expected)
    assert generation.finish_reason in ("stop", "length")
    assert generation.usage()["total_tokens"] == generation.prompt_tokens + len(expected)
    timings = generation.timings()
    assert timings["time_to_first_token_s"] is not None and timings["total_s"] > 0


def test_max_tokens_is_respected(served: tuple[ServedModel, Engine]) -> None:
    generation, _ = generate(served, 7)
    assert generation.completion_tokens <= 7
    if generation.completion_tokens == 7:
        assert generation.finish_reason == "length"


@pytest.fixture(scope="module")
def guarded(tiny_served_dir: Path) -> Iterator[tuple[ServedModel, Engine]]:
    """The engine as the server builds it: with the UTF-8 guard, so even the random model
    writes valid text."""
    model = load_served_model(tiny_served_dir)
    engine = build_engine(model, load_decoder(model.onnx_path, threads=1))
    engine.start()
    yield model, engine
    engine.shutdown(0)
    engine.join(10)


def test_stop_string_ends_the_text_before_it(guarded: tuple[ServedModel, Engine]) -> None:
    _, pieces = generate(guarded, 40)
    full = "".join(pieces)
    assert len(full) >= 8 and "\ufffd" not in full, full
    stop = full[4:7]
    generation, pieces = generate(guarded, 40, stop=(stop,))
    assert "".join(pieces) == full[: full.find(stop)]
    assert generation.finish_reason == "stop"


def test_a_stop_string_cuts_the_log_probability_of_its_token(
    guarded: tuple[ServedModel, Engine],
) -> None:
    model, _ = guarded
    _, pieces = generate(guarded, 40)
    full = "".join(pieces)
    stop = full[4:7]
    generation, pieces = generate(guarded, 40, stop=(stop,), logprobs=0)
    tokens = [entry.token for entry in generation.logprobs]
    assert len(tokens) == generation.completion_tokens - 1  # all but the one that stopped
    assert stop not in model.tokenizer.decode(tokens)
    assert model.tokenizer.decode(tokens).startswith("".join(pieces)[:1])
