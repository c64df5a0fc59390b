"""POST /v1/completions: OpenAI's legacy text completion, the route evaluation harnesses
score a model with (lm-evaluation-harness's `local-completions`, vLLM's benchmarks).

The prompt (text, or token ids) is continued as sent: no chat template, no normalization,
<bos> first. `echo` returns the prompt before the answer; with `logprobs` it also returns
the prompt's own log-probabilities, computed in one pass over the prompt in a worker thread
(each token under the model's distribution after the tokens before it; the first has none),
so a harness can score the log-likelihood of a continuation. `max_tokens: 0` only scores.
Generation runs on the same engine as chat, with the same sampling fields and stop strings.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from persian_chat.server.engine.generation import GenerationRequest
from persian_chat.server.engine.sampling import token_logprobs
from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import CompletionRequest
from persian_chat.server.http.chat_service import ChatStream, ModelSwitchedError, guarded
from persian_chat.server.http.gate import cache_scope
from persian_chat.server.http.prompt_request import sampling_params
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.http.wire import IMPOSSIBLE, EventStream, Wire, sse, sse_events
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import Prompt
from persian_chat.server.text.stream import StreamStats

ROUTE = "/v1/completions"
_SCORING = threading.Lock()  # one prompt scored at a time: its logits are (tokens, vocab)


def prompt_ids(body: CompletionRequest, runtime: Runtime) -> tuple[list[int], int, str]:
    """The ids a completion continues — the text encoded after <bos>, or the ids as sent —
    how many of them the server added (an echo leaves those out), and the prompt's text."""
    model = runtime.model
    vocab = model.tokenizer.get_vocab_size()
    if isinstance(body.prompt, list) and isinstance(body.prompt[0], int):
        ids = [int(i) for i in body.prompt]
        bad = next((n for n, i in enumerate(ids) if i >= vocab), None)
        if bad is not None:
            message = f"token id {ids[bad]} is not in the vocabulary"
            raise ApiError(400, message, param=f"prompt.{bad}")
        return ids, 0, model.tokenizer.decode(ids, skip_special_tokens=False)
    text = body.prompt if isinstance(body.prompt, str) else str(body.prompt[0])
    bos = model.tokenizer.token_to_id(model.bos_token)
    encoded = list(model.tokenizer.encode(text, add_special_tokens=False).ids)
    return ([bos, *encoded], 1, text) if bos is not None else (encoded, 0, text)


def token_texts(table: Sequence[bytes], ids: Sequence[int]) -> list[str]:
    """Each token's text such that they join to the whole: a token that ends inside a
    character gives "" and the token that completes it the character."""
    out, pending = [], b""
    for token in ids:
        pending += table[token] if token < len(table) else b""
        try:
            text, pending = pending.decode("utf-8"), b""
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":  # not a partial character: show it
                text, pending = pending.decode("utf-8", errors="replace"), b""
            else:
                text, pending = pending[: exc.start].decode("utf-8"), pending[exc.start :]
        out.append(text)
    if pending and out:
        out[-1] += pending.decode("utf-8", errors="replace")
    return out


def scored_prompt(
    runtime: Runtime, ids: list[int], top: int
) -> list[tuple[float | None, tuple[tuple[int, float], ...]]]:
    """Each prompt token's log-probability after the ones before it, with the `top` most
    likely tokens there (the first token has neither)."""
    with _SCORING:
        logits = runtime.engine.decoder.sequence_logits(ids)
    out: list[tuple[float | None, tuple[tuple[int, float], ...]]] = [(None, ())]
    for position in range(1, len(ids)):
        logprob, best = token_logprobs(logits[position - 1], ids[position], top)
        out.append((logprob, best))
    return out


def check_length(ids: list[int], max_tokens: int, settings: ServerSettings, context: int) -> None:
    limit = min(settings.max_prompt_tokens or context - 1, context - 1)
    if len(ids) > limit:
        raise ApiError(
            400,
            f"the prompt has {len(ids)} tokens; at most {limit}",
            param="prompt",
            code="context_length_exceeded",
        )
    if max_tokens > settings.max_tokens_limit:
        raise ApiError(400, f"max_tokens may be at most {settings.max_tokens_limit}", "max_tokens")


class CompletionWire(Wire):
    """OpenAI's text_completion objects: `choices[0].text`, and with `logprobs` the legacy
    shape (tokens, token_logprobs, top_logprobs as {token: logprob}, text_offset)."""

    def __init__(
        self,
        request_id: str,
        model_id: str,
        stats: StreamStats,
        body: CompletionRequest,
        vocabulary: Callable[[], Sequence[bytes]],
        echo_text: str,
        echo_scores: list[tuple[float | None, tuple[tuple[int, float], ...]]],
        echo_ids: list[int],
    ) -> None:
        super().__init__(request_id, model_id, stats, body)
        self.base = {"id": request_id, "created": int(time.time()), "model": model_id}
        self.with_logprobs = body.logprobs is not None
        self.include_usage = bool(body.stream_options and body.stream_options.include_usage)
        self.vocabulary = vocabulary
        self.echo_text, self.echo_scores, self.echo_ids = echo_text, echo_scores, echo_ids
        self.sent = 0
        self.offset = 0  # characters of text sent so far (for text_offset)

    def _text(self, token: int) -> str:
        """A top alternative's text: "bytes:\\xd8" for a token inside a character."""
        table = self.vocabulary()
        data = table[token] if token < len(table) else b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{b:02x}" for b in data)

    def _entries(
        self, items: list[tuple[int, float | None, tuple[tuple[int, float], ...]]]
    ) -> dict[str, Any]:
        texts = token_texts(self.vocabulary(), [token for token, _, _ in items])
        logprobs: list[float | None] = []
        tops: list[dict[str, float] | None] = []
        offsets = []
        for text, (_, logprob, best) in zip(texts, items, strict=True):
            if logprob is None:
                logprobs.append(None)
                tops.append(None)
            else:
                logprobs.append(logprob if math.isfinite(logprob) else IMPOSSIBLE)
                tops.append({self._text(t): lp for t, lp in best})
            offsets.append(self.offset)
            self.offset += len(text)
        return {
            "tokens": texts,
            "token_logprobs": logprobs,
            "top_logprobs": tops,
            "text_offset": offsets,
        }

    def logprobs(self, with_echo: bool) -> dict[str, Any] | None:
        if not self.with_logprobs:
            return None
        items: list[tuple[int, float | None, tuple[tuple[int, float], ...]]] = []
        if with_echo:
            items += [
                (t, lp, b) for t, (lp, b) in zip(self.echo_ids, self.echo_scores, strict=True)
            ]
        new, self.sent = self.stats.logprobs[self.sent :], len(self.stats.logprobs)
        items += [(i.token, i.logprob, i.top) for i in new]
        return self._entries(items)

    def reason(self) -> str:
        return "length" if self.stats.finish_reason == "length" else "stop"

    def choice(
        self, text: str, finish: str | None, logprobs: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}

    def reply(self, text: str) -> dict[str, Any]:
        echo = bool(self.echo_ids)
        full = self.echo_text + text
        return {
            **self.base,
            "object": "text_completion",
            "choices": [self.choice(full, self.reason(), self.logprobs(echo))],
            "usage": self.stats.usage(),
        }

    def chunk(
        self, text: str, finish: str | None, logprobs: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {
            **self.base,
            "object": "text_completion",
            "choices": [self.choice(text, finish, logprobs)],
        }

    def opening(self) -> list[Any]:
        if not self.echo_ids:
            return []
        return [self.chunk(self.echo_text, None, self.logprobs(True))]

    def piece(self, text: str) -> Any:
        return self.chunk(text, None, self.logprobs(False))

    def closing(self) -> list[Any]:
        events: list[Any] = [self.chunk("", self.reason(), self.logprobs(False))]
        if self.include_usage:
            events.append(
                {
                    **self.base,
                    "object": "text_completion",
                    "choices": [],
                    "usage": self.stats.usage(),
                }
            )
        return [*events, "[DONE]"]


async def _complete(request: Request, stream: ChatStream) -> Response:
    state = stream.state
    state.ready()
    stream.key = state.gate.authorize(request)
    body = await state.gate.admit(request, stream.key, CompletionRequest)
    runtime = await state.runtime_for(body.model)
    model, settings = runtime.model, state.settings
    max_tokens = settings.default_max_tokens if body.max_tokens is None else body.max_tokens
    ids, added, prompt_text = prompt_ids(body, runtime)
    if not ids:
        raise ApiError(400, "the prompt is empty", param="prompt")
    check_length(ids, max_tokens, settings, model.context_length)
    max_tokens = min(max_tokens, model.context_length - len(ids))
    echo_ids = ids[added:] if body.echo else []
    echo_scores: list[tuple[float | None, tuple[tuple[int, float], ...]]] = []
    if body.echo and body.logprobs is not None:
        scores = await asyncio.to_thread(scored_prompt, runtime, ids, body.logprobs)
        echo_scores = scores[added:]
    elif body.echo:
        echo_scores = [(None, ())] * len(echo_ids)
    echo_text = prompt_text if body.echo else ""
    stream.model = model.model_id
    stream.stats = StreamStats(prompt_tokens=len(ids))
    request_ = GenerationRequest(
        ids,
        sampling_params(body),
        max(max_tokens, 1),
        model.stop_ids,
        logprobs=body.logprobs,
        cache_scope=cache_scope(state.gate.client(request, stream.key), body.cache_salt),
    )
    stream.prompt = Prompt(request_, body.stops, [], 0)
    wire = CompletionWire(
        stream.request_id,
        model.model_id,
        stream.stats,
        body,
        lambda: model.vocabulary_bytes,
        echo_text,
        echo_scores,
        echo_ids,
    )
    if max_tokens == 0:  # scoring only: nothing to generate
        stream.stats.finish_reason = "length"
        stream.close(200)
        if not body.stream:
            return JSONResponse(wire.reply(""))
        return EventStream(_events([*wire.opening(), *wire.closing()]), lambda: None)
    try:
        await stream.submit(runtime)
    except ModelSwitchedError:
        raise ApiError(
            503,
            "the served model was switched just now: send the request again",
            code="model_switched",
        ) from None
    if not body.stream:
        text = await stream.text(request, runtime)
        stream.close(200, output=text)
        return JSONResponse(wire.reply(text))
    events_ = sse_events(stream.pieces(runtime), wire, stream.close)
    return EventStream(events_, lambda: stream.close(499, "client disconnected"))


async def completion_response(request: Request) -> Response:
    """The response to POST /v1/completions; every failure is one JSON error."""
    stream = ChatStream(ROUTE, request.app.state.app_state)
    return await guarded(stream, _complete(request, stream))


async def _events(events: list[Any]) -> AsyncIterator[str]:
    for event in events:
        yield sse(event)
