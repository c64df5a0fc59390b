"""One request's decoding loop: prefill the prompt once, then one token per step with the
KV cache, sampling in numpy, streaming only whole characters and honouring stop strings,
stop tokens and max_tokens. The continuous-batching engine builds on the same pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from persian_chat.chat_format import Message
from persian_chat.chat_template import render
from persian_chat.server.detokenizer import IncrementalDecoder
from persian_chat.server.onnx_model import OnnxDecoder
from persian_chat.server.sampling import SamplingParams, next_token
from persian_chat.server.served_model import ServedModel
from persian_chat.server.stop_strings import StopMatcher


@dataclass
class Generation:
    """Filled in while the stream is consumed; final once it is exhausted."""

    prompt_tokens: int
    token_ids: list[int] = field(default_factory=list)
    finish_reason: Literal["stop", "length"] | None = None


def prompt_ids(model: ServedModel, messages: list[Message]) -> list[int]:
    text = render(
        messages, model.bos_token, add_generation_prompt=True, template=model.chat_template
    )
    return list(model.tokenizer.encode(text, add_special_tokens=False).ids)


def sample_tokens(
    decoder: OnnxDecoder,
    prompt: list[int],
    params: SamplingParams,
    max_tokens: int,
    stop_ids: frozenset[int],
    generation: Generation,
) -> Iterator[int]:
    """Token ids until a stop token (not yielded) or `max_tokens`."""
    rng = params.generator()
    mask = np.ones((1, len(prompt)), dtype=np.int64)
    logits, past = decoder.step(np.array([prompt], dtype=np.int64), mask, decoder.empty_cache(1))
    context = list(prompt)
    while len(generation.token_ids) < max_tokens:
        token = next_token(logits[0, -1], context, params, rng)
        if token in stop_ids:
            generation.finish_reason = "stop"
            return
        generation.token_ids.append(token)
        context.append(token)
        yield token
        mask = np.concatenate([mask, np.ones((1, 1), dtype=np.int64)], axis=1)
        logits, past = decoder.step(np.array([[token]], dtype=np.int64), mask, past)
    generation.finish_reason = "length"


def stream_text(
    model: ServedModel,
    decoder: OnnxDecoder,
    messages: list[Message],
    params: SamplingParams,
    max_tokens: int,
    stop: tuple[str, ...] = (),
) -> tuple[Generation, Iterator[str]]:
    """The generation record and an iterator of text pieces (whole characters only)."""
    prompt = prompt_ids(model, messages)
    generation = Generation(prompt_tokens=len(prompt))

    def pieces() -> Iterator[str]:
        detokenizer = IncrementalDecoder(model.tokenizer)
        matcher = StopMatcher(stop)
        for token in sample_tokens(decoder, prompt, params, max_tokens, model.stop_ids, generation):
            text = matcher.feed(detokenizer.push(token))
            if text:
                yield text
            if matcher.stopped:
                generation.finish_reason = "stop"
                return
        tail = matcher.feed(detokenizer.flush())
        if matcher.stopped:
            generation.finish_reason = "stop"
        tail += matcher.flush()
        if tail:
            yield tail

    return generation, pieces()
