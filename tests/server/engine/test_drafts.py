"""Prompt-lookup drafts, and an engine that checks them gives exactly the text it gives
without them, greedy or sampled, for the same seed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from persian_chat.server.engine.core import Engine
from persian_chat.server.engine.drafts import draft_tokens
from persian_chat.server.engine.generation import GenerationRequest
from persian_chat.server.engine.sampling import DEFAULT_SAMPLING, SamplingParams
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.text.served_model import load_served_model


def test_the_draft_follows_the_latest_occurrence_of_the_longest_tail() -> None:
    context = [1, 2, 3, 9, 9, 2, 3, 7, 8, 5, 2, 3]
    assert draft_tokens(context, 2) == [7, 8]  # tail [2, 3]: its latest earlier place
    assert draft_tokens([4, 5, 6, 1, 4, 5, 6, 2, 4, 5, 6], 3) == [2, 4, 5]  # [4, 5, 6]
    assert draft_tokens([1, 2, 3, 4, 5], 3) == []  # the tail occurs nowhere before
    assert draft_tokens([7, 1, 7], 4) == [1, 7]  # what is there, up to the context's end
    assert draft_tokens([7, 1, 7], 0) == [] and draft_tokens([7], 3) == []


@pytest.mark.parametrize(
    "params",
    [SamplingParams(temperature=0), DEFAULT_SAMPLING, SamplingParams(temperature=1.0, top_k=20)],
)
def test_lookup_decoding_gives_the_same_tokens_as_one_at_a_time(
    tiny_gemma_fp32_served_dir: Path, params: SamplingParams
) -> None:
    model = load_served_model(tiny_gemma_fp32_served_dir)
    # prompts that repeat themselves, so drafts exist and some are right
    prompts = [[*range(20, 32)] * 3, [40, 41, 42, 43] * 6 + [40, 41], [5, 6, 7, 8, 9] * 4]

    def answers(lookup: int) -> tuple[list[list[int]], Engine]:
        engine = Engine(
            load_decoder(model.onnx_path, threads=1),
            model.context_length,
            max_batch=2,
            lookup_tokens=lookup,
        )
        engine.start()

        async def ask(prompt: list[int], seed: int) -> list[int]:
            request = GenerationRequest(
                prompt, params.__class__(**{**params.__dict__, "seed": seed}), 40, frozenset()
            )
            sequence = engine.submit(request, asyncio.get_running_loop())
            return [int(t) async for t in sequence.tokens()]

        try:
            return [asyncio.run(ask(p, seed)) for seed, p in enumerate(prompts)], engine
        finally:
            engine.shutdown(0)
            assert engine.join(10)

    plain, _ = answers(0)
    ahead, engine = answers(3)
    assert ahead == plain
    assert engine.drafted > 0  # the drafts were checked, not skipped
    if params.temperature == 0:
        assert engine.accepted > 0
