"""Continuous batching: one thread runs the model for every request at once.

Requests wait in the scheduler's queue (server/engine/scheduler.py: admission, the shutdown
deadline); at each step boundary the engine asks it for a plan, prefills the newcomers (one at a
time, batch 1, so a prompt costs exactly its own tokens; with a GroupQueryAttention graph in
chunks, with a decode step for the running rows between chunks and between newcomers, and
from the stored KV of the default system prompt), adds them as rows of the batch's KV
cache, then decodes one token for every row in a single `session.run`.
Finished and cancelled rows leave at the next boundary, their KV kept in a PromptCache
(server/kv/prompt_cache.py) when one is given, so the next turn of that conversation prefills
only its new message. `session.run` releases the GIL, so
the asyncio event loop keeps serving while the model works; tokens cross over with
`loop.call_soon_threadsafe`. Each request samples with its own seeded generator, so its
text does not depend on what else is in the batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from persian_chat.server.engine.drafts import draft_tokens
from persian_chat.server.engine.generation import (
    Finished,
    Generation,
    GenerationRequest,
    TokenLogprob,
)
from persian_chat.server.engine.sampling import next_token, token_logprobs
from persian_chat.server.engine.scheduler import (
    SHUTDOWN_MESSAGE,
    EngineClosedError,
    EngineFullError,
    Scheduler,
)
from persian_chat.server.engine.utf8_guard import Utf8Guard
from persian_chat.server.kv.batch import Batch
from persian_chat.server.kv.onnx_model import Array, Decoder
from persian_chat.server.kv.padded_batch import KVBatch
from persian_chat.server.kv.prompt_cache import PromptCache
from persian_chat.server.kv.slot_cache import GqaDecoder, SlotBatch

log = logging.getLogger("persian_chat.server.engine")

__all__ = ["SHUTDOWN_MESSAGE", "Engine", "EngineClosedError", "EngineFullError", "new_batch"]


def new_batch(
    decoder: Decoder, prefix: list[int] | None = None, cache: PromptCache | None = None
) -> Batch:
    """The batch kind the graph needs: in-place slots for GroupQueryAttention graphs (the
    only kind with a prefix and a prompt cache)."""
    if isinstance(decoder, GqaDecoder):
        return SlotBatch(decoder, prefix, cache)
    return KVBatch(decoder)


class Engine:
    """Owns the decoder and the batching thread; `submit` is safe to call from any thread."""

    def __init__(
        self,
        decoder: Decoder,
        context_length: int,
        max_batch: int = 8,
        max_waiting: int = 16,
        guard: Utf8Guard | None = None,
        prefix: list[int] | None = None,
        prompt_cache_bytes: int = 0,
        lookup_tokens: int = 0,
    ) -> None:
        if max_batch < 1 or max_waiting < 0:
            raise ValueError("max_batch must be >= 1 and max_waiting >= 0")
        if max_batch > 1 and not decoder.can_batch:
            log.warning(
                "the ONNX graph has no position_ids input, so left-padded rows would get "
                "wrong positions; serving one sequence at a time (re-export to batch)"
            )
            max_batch = 1
        self.decoder = decoder
        self.context_length = context_length  # positions the model has; never feed more
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.guard = guard  # keeps answers valid UTF-8 (None: the tokenizer needs none)
        self.prefix = prefix  # tokens most prompts start with: their KV is computed once
        self.prompt_cache = PromptCache(prompt_cache_bytes) if prompt_cache_bytes > 0 else None
        self.lookup_tokens = lookup_tokens  # prompt-lookup draft length at batch 1; 0: off
        self.drafted = self.accepted = 0  # draft tokens fed, and those kept (for the bench)
        self.scheduler: Scheduler[Generation] = Scheduler(max_batch, max_waiting)
        self._rows: list[Generation] = []
        self._thread = threading.Thread(target=self._run, name="persian-chat-engine", daemon=True)
        self.steps = 0  # decode steps run, for tests and metrics
        self._first_batch: Batch | None = None

    # -- the asyncio side ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def failure(self) -> str | None:
        """Why the loop died, if it did."""
        return self.scheduler.failure

    @failure.setter
    def failure(self, reason: str | None) -> None:
        self.scheduler.failure = reason

    @property
    def alive(self) -> bool:
        """False once the loop has died (a bug, not a request): /health reports it and the
        server exits so its supervisor restarts it."""
        alive = self._thread.is_alive() or self.scheduler.closing or not self._thread.ident
        return self.failure is None and alive

    @property
    def waiting(self) -> int:
        return self.scheduler.waiting

    @property
    def active(self) -> int:
        return len(self._rows) + self.scheduler.admitting

    def submit(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop) -> Generation:
        if not 0 < len(request.prompt) < self.context_length:
            raise ValueError(
                f"prompt of {len(request.prompt)} tokens; the model takes 1 to "
                f"{self.context_length - 1}"
            )
        sequence = Generation(request, loop)
        self.scheduler.submit(sequence, len(self._rows))
        return sequence

    def shutdown(self, grace_seconds: float) -> None:
        """Take no new requests; let running ones finish for `grace_seconds`, then end the
        rest with an error so every client gets a last event. A later call can shorten the
        grace, never lengthen it (SIGTERM during a model switch's long drain ends it sooner)."""
        self.scheduler.close(grace_seconds)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the engine thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug in the loop itself: fail loudly, never hang
            log.exception("the engine loop failed; no request can be served any more")
            left = self.scheduler.fail(f"{type(exc).__name__}: {exc}")
            ending, self._rows = [*self._rows, *left], []
            for sequence in ending:
                self._finish(sequence, Finished("error", "the engine stopped"))

    def _new_batch(self) -> Batch:
        if self._first_batch is None:  # the shared prefix is computed once
            self._first_batch = new_batch(self.decoder, self.prefix, self.prompt_cache)
        return self._first_batch.emptied()

    def _loop(self) -> None:
        batch = self._new_batch()
        while True:  # plan -> prefill newcomers -> drop cancelled -> decode
            plan = self.scheduler.plan(len(self._rows))
            if plan is None:
                return
            if plan.expired:
                ending, self._rows = [*self._rows, *plan.admit], []
                for sequence in ending:
                    self._finish(sequence, Finished("error", SHUTDOWN_MESSAGE))
                batch = self._new_batch()
                continue
            for number, sequence in enumerate(plan.admit):
                if number and self._rows:  # the running answers step between newcomers too
                    batch = self._decode(batch)
                self._prefill(sequence, batch)
            cancelled = Finished("cancelled")
            self._drop(batch, {i: cancelled for i, s in enumerate(self._rows) if s.cancelled})
            if self._rows:
                batch = self._decode(batch)

    def _draft(self, batch: Batch) -> list[int]:
        """A prompt-lookup draft for the one running row, when it may take one: batch 1
        (GroupQueryAttention steps several tokens with a past only for one row), nobody
        waiting, and room before a windowed cache evicts."""
        if not self.lookup_tokens or len(self._rows) != 1 or self.scheduler.waiting:
            return []
        if not batch.can_step_ahead(self.lookup_tokens + 1):
            return []
        sequence = self._rows[0]
        room = sequence.request.max_tokens - sequence.generated
        return draft_tokens(sequence.context, min(self.lookup_tokens, room - 1))

    def _decode(self, batch: Batch) -> Batch:
        """One decode step for every row; the batch to go on with (a new one only after a
        padded batch's step failed)."""
        draft = self._draft(batch)
        if draft:
            return self._decode_ahead(batch, draft)
        return self._decode_one(batch)

    def _decode_ahead(self, batch: Batch, draft: list[int]) -> Batch:
        """One step over the pending token and a draft, then the request's own sampler at
        each position in turn: a sampled token equal to the draft's keeps the next position,
        the first that differs is the new pending token (drafts.py's exactness)."""
        sequence = self._rows[0]
        try:
            logits = batch.step_ahead([sequence.pending, *draft])
        except Exception:  # nothing was kept: decode one token the usual way
            log.exception("a step ahead failed; decoding one token")
            batch.keep_ahead(0)
            return self._decode_one(batch)
        self.steps += 1
        self.drafted += len(draft)
        end, used = None, 0
        for used in range(len(draft) + 1):
            end = self._accept_or_fail(sequence, logits[used])
            if end is not None or used == len(draft) or sequence.pending != draft[used]:
                break
        self.accepted += used
        batch.keep_ahead(used + 1)  # the pending token and the draft tokens kept
        if end is not None:
            self._drop(batch, {0: end})
        return batch

    def _finish(self, sequence: Generation, finished: Finished) -> None:
        sequence.deliver(finished)

    def _accept(self, sequence: Generation, logits: Array) -> Finished | None:
        """Sample and deliver the next token; how the sequence ends if this was its last.
        The caller delivers that end only after removing the sequence from the batch, so a
        client that sees the end also sees the engine without it."""
        request = sequence.request
        allowed = self.guard.allowed(sequence.utf8) if self.guard is not None else None
        if sequence.constraint is not None:
            allowed = sequence.constraint.allowed(logits.shape[-1], allowed)
        token = next_token(
            logits, sequence.context, request.params, sequence.rng, sequence.history, allowed
        )
        if token in request.stop_ids:
            return Finished("stop")
        if sequence.constraint is not None:
            sequence.constraint.advance(token)
        if self.guard is not None:
            self.guard.advance(sequence.utf8, token)
        sequence.history.add(token)
        sequence.context.append(token)
        sequence.generated += 1
        sequence.pending = token
        if request.logprobs is None:
            sequence.deliver(token)
        else:
            logprob, top = token_logprobs(logits, token, request.logprobs)
            sequence.deliver(TokenLogprob(token, logprob, top))
        if sequence.constraint is not None and sequence.constraint.finished:
            return Finished("stop")  # the grammar takes nothing more: the answer is complete
        if sequence.generated >= request.max_tokens or len(sequence.context) >= self.context_length:
            return Finished("length")
        return None

    def _accept_or_fail(self, sequence: Generation, logits: Array) -> Finished | None:
        """_accept, where one request's failure (sampling, a bad value) ends that request
        only."""
        try:
            return self._accept(sequence, logits)
        except Exception as exc:
            log.exception("sampling failed for one sequence")
            return Finished("error", f"sampling failed: {type(exc).__name__}")

    def _prefill(self, sequence: Generation, batch: Batch) -> None:
        finished: Finished | None = None
        if sequence.cancelled:
            finished = Finished("cancelled")
        else:

            def between() -> None:  # running answers go on between the prompt's chunks
                if self._rows:
                    # a padded batch never calls between(); the slot batch is never replaced
                    self._decode(batch)

            try:
                request = sequence.request
                logits = batch.prefill(request.prompt, between, request.cache_scope)
                sequence.cached_tokens = batch.reused
                finished = self._accept(sequence, logits)
                if finished is None:
                    self._rows.append(sequence)
                else:
                    batch.remove([batch.size - 1])
            except Exception as exc:  # onnxruntime errors: end this request, keep serving
                log.exception("prefill failed")
                finished = Finished("error", f"prefill failed: {exc}")
        self.scheduler.started(sequence)
        if finished is not None:
            self._finish(sequence, finished)

    def _drop(self, batch: Batch, ends: dict[int, Finished]) -> None:
        """Remove finished rows from the batch (their KV remembered for a next turn), then
        tell their clients."""
        if not ends:
            return
        dropped = [(self._rows[i], end) for i, end in sorted(ends.items())]
        for i, (sequence, end) in zip(sorted(ends), dropped, strict=True):
            if end.reason != "error":
                batch.remember(i, sequence.context, sequence.request.cache_scope)
        batch.remove(sorted(ends))
        self._rows = [s for i, s in enumerate(self._rows) if i not in ends]
        for sequence, end in dropped:
            self._finish(sequence, end)

    def _decode_one(self, batch: Batch) -> Batch:
        try:
            logits = batch.step([s.pending for s in self._rows])
        except Exception as exc:
            log.exception("decode step failed")
            failed, self._rows = self._rows, []
            for sequence in failed:
                self._finish(sequence, Finished("error", f"decode failed: {exc}"))
            return batch.recovered()
        self.steps += 1
        ends = {}
        for i, sequence in enumerate(self._rows):
            end = self._accept_or_fail(sequence, logits[i])
            if end is not None:
                ends[i] = end
        self._drop(batch, ends)
        return batch
