"""From the engine's tokens to streamed text: whole characters with stop strings applied,
timed for usage and metrics."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from persian_chat.server.engine.generation import Generation, TokenLogprob
from persian_chat.server.text.detokenizer import IncrementalDecoder
from persian_chat.server.text.served_model import ServedModel
from persian_chat.server.text.stop_strings import StopMatcher


class GenerationError(RuntimeError):
    """The engine ended the request with an error (the message says why)."""


@dataclass
class StreamStats:
    """One request's record: filled while its text streams, final when the stream ends."""

    prompt_tokens: int
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV was reused (OpenAI's usage field)
    finish_reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    token_times: list[float] = field(default_factory=list)
    finished: float | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)  # when the request asks
    sources: list[dict[str, str]] = field(default_factory=list)  # passages used: id, title

    @property
    def time_to_first_token(self) -> float | None:
        return self.token_times[0] - self.started if self.token_times else None

    @property
    def inter_token_latencies(self) -> list[float]:
        times = self.token_times
        return [b - a for a, b in itertools.pairwise(times)]

    def timings(self) -> dict[str, float | None]:
        end = self.finished or time.monotonic()
        decode = self.token_times[-1] - self.token_times[0] if len(self.token_times) > 1 else 0
        return {
            "time_to_first_token_s": self.time_to_first_token,
            "total_s": end - self.started,
            "decode_tokens_per_s": (len(self.token_times) - 1) / decode if decode else None,
        }

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


async def stream_text(
    sequence: Generation, model: ServedModel, stop: tuple[str, ...], stats: StreamStats
) -> AsyncIterator[str]:
    """Text pieces (whole characters) until a stop token, stop string or max_tokens; raises
    GenerationError after the text so far when the engine fails. A stop string cancels the
    sequence, so the engine stops computing at once."""
    detokenizer = IncrementalDecoder(model.tokenizer)
    matcher = StopMatcher(stop)
    stats.logprobs = sequence.logprobs  # filled as the tokens arrive
    try:
        async for token in sequence.tokens():
            stats.token_times.append(time.monotonic())
            stats.completion_tokens += 1
            text = matcher.feed(detokenizer.push(token))
            if matcher.stopped and stats.logprobs:  # the token that completed the stop string
                del stats.logprobs[-1]  # is cut with its text: no log-probability for it
            if text:
                yield text
            if matcher.stopped:
                stats.finish_reason = "stop"
                return
        tail = matcher.feed(detokenizer.flush())
        tail += "" if matcher.stopped else matcher.flush()
        if tail:
            yield tail
        finish = sequence.finish
        if finish is not None and finish.reason == "error":
            stats.finish_reason = "error"
            raise GenerationError(finish.error or "generation failed")
        stats.finish_reason = "stop" if matcher.stopped else (finish.reason if finish else None)
    finally:
        sequence.cancel()
        stats.cached_tokens = sequence.cached_tokens  # set by the engine before any token
        stats.finished = time.monotonic()
