"""One request inside the engine: what it asks for (`GenerationRequest`), its running state
(`Generation`: the engine thread fills it, asyncio code reads it) and how it ended (`Finished`).
Tokens cross from the engine thread to the event loop with `loop.call_soon_threadsafe`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from persian_chat.server.engine.grammar import Constraint
from persian_chat.server.engine.sampling import AnswerHistory, SamplingParams
from persian_chat.server.engine.utf8_guard import Utf8State

FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class GenerationRequest:
    prompt: list[int]
    params: SamplingParams
    max_tokens: int
    stop_ids: frozenset[int]
    logprobs: int | None = None  # None: off; N: the chosen token's and the N most likely
    cache_scope: str = ""  # whose prompt-cache entries it may reuse and adds to (its key's)
    # structured output: the answer must match it (its matcher is built with the prompt, in
    # a worker thread, and belongs to this one request)
    constraint: Constraint | None = None


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token with its log-probability and the most likely alternatives."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Finished:
    reason: FinishReason
    error: str | None = None


@dataclass(eq=False)
class Generation:
    """One request inside the engine. The engine thread fills it; asyncio code reads it."""

    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[int | TokenLogprob | Finished] = field(default_factory=asyncio.Queue)
    finish: Finished | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)  # when the request asks
    # engine-thread state
    context: list[int] = field(default_factory=list)
    generated: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV came from the prefix or prompt cache
    pending: int = -1  # the sampled token the next decode step feeds
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    history: AnswerHistory = field(default_factory=AnswerHistory)
    utf8: Utf8State = field(default_factory=Utf8State)
    constraint: Constraint | None = None
    _cancelled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.context = list(self.request.prompt)
        self.rng = self.request.params.generator()
        self.constraint = self.request.constraint
        # JSON repeats «", "» by design: the n-gram ban would fight the grammar
        ngram = 0 if self.constraint is not None else self.request.params.no_repeat_ngram_size
        self.history = AnswerHistory(ngram)

    def cancel(self) -> None:
        """Ask the engine to drop this sequence at its next step (idempotent)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def deliver(self, item: int | TokenLogprob | Finished) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancel()

    async def tokens(self) -> AsyncIterator[int]:
        """Token ids as the engine produces them; `finish` is set when this ends."""
        while True:
            item = await self.queue.get()
            if isinstance(item, Finished):
                self.finish = item
                return
            if isinstance(item, TokenLogprob):
                self.logprobs.append(item)
                item = item.token
            yield item
