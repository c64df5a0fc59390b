"""The two formats a chat answer goes out in — ours (/api/chat) and OpenAI's
(/v1/chat/completions) — and the one server-sent-events loop both routes stream with.

A format only shapes JSON: what an answer, a streamed piece, the stream's start and its end
look like. Errors mid-stream are one error event in OpenAI's error shape for both.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import OpenAIChatRequest, Sampling
from persian_chat.server.http.tools import forced_call
from persian_chat.server.text.stream import GenerationError, StreamStats

log = logging.getLogger("persian_chat.server")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INTERNAL = "internal server error"
IMPOSSIBLE = -9999.0  # OpenAI's log-probability of a token that cannot occur
Event = dict[str, Any] | str
# close(status, error, output): count, time and log the request once
Close = Callable[[int, str | None, str], None]


# characters JSON leaves as they are but line readers split at (Python's str.splitlines, so
# httpx's iter_lines and the UI's client): escaped, an event stays one line for every reader
LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def sse(data: Event) -> str:
    text = (
        data
        if isinstance(data, str)
        else json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(LINE_BREAKS)
    )
    return f"data: {text}\n\n"


class Wire:
    """Our format: {"token": piece} events, then one summary event (done, usage, timings)."""

    def __init__(
        self,
        request_id: str,
        model_id: str,
        stats: StreamStats,
        body: Sampling,
        vocabulary: Callable[[], Sequence[bytes]] = tuple,
    ) -> None:
        self.request_id, self.model_id, self.stats = request_id, model_id, stats

    def summary(self) -> dict[str, Any]:
        s = self.stats
        return {
            "done": True,
            "finish_reason": s.finish_reason,
            "usage": s.usage(),
            "timings": s.timings(),
            "model": self.model_id,
            "id": self.request_id,
            "sources": s.sources,
        }

    def reply(self, text: str) -> dict[str, Any]:
        return {"message": {"role": "assistant", "content": text}, **self.summary()}

    def opening(self) -> list[Event]:
        return []

    def piece(self, text: str) -> Event | None:
        return {"token": text}

    def closing(self) -> list[Event]:
        return [self.summary()]


def _token(data: bytes, logprob: float) -> dict[str, Any]:
    """OpenAI's token entry; a token that is part of a character is named by its bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "bytes:" + "".join(f"\\x{b:02x}" for b in data)
    finite = logprob if math.isfinite(logprob) else IMPOSSIBLE  # JSON has no -Infinity
    return {"token": text, "logprob": finite, "bytes": list(data)}


class OpenAIWire(Wire):
    """OpenAI's chat.completion and chat.completion.chunk objects, `[DONE]` at the end;
    with `logprobs`, each chunk carries the entries of the tokens it holds."""

    def __init__(
        self,
        request_id: str,
        model_id: str,
        stats: StreamStats,
        body: Sampling,
        vocabulary: Callable[[], Sequence[bytes]] = tuple,
    ) -> None:
        super().__init__(request_id, model_id, stats, body)
        self.base = {"id": request_id, "created": int(time.time()), "model": model_id}
        options = body.stream_options if isinstance(body, OpenAIChatRequest) else None
        self.include_usage = bool(options and options.include_usage)
        self.with_logprobs = body.requested_logprobs is not None
        self.vocabulary = vocabulary
        self.sent = 0  # log-probability entries already sent
        self.call = forced_call(body)  # the answer is a tool call: sent whole at the end
        self.held: list[str] = []

    def calls(self, text: str) -> list[dict[str, Any]] | None:
        """The answer as `tool_calls` when a call was forced and it is complete."""
        if self.call is None or self.stats.finish_reason != "stop":
            return None
        return self.call.calls(text)

    def reason(self) -> str:
        return "length" if self.stats.finish_reason == "length" else "stop"

    def logprobs(self) -> dict[str, Any] | None:
        """The entries not sent yet, in OpenAI's `{"content": [...]}`; None when not asked."""
        if not self.with_logprobs:
            return None
        vocabulary = self.vocabulary()
        items, self.sent = self.stats.logprobs[self.sent :], len(self.stats.logprobs)

        def data(token: int) -> bytes:
            return vocabulary[token] if token < len(vocabulary) else b""

        content = [
            {
                **_token(data(i.token), i.logprob),
                "top_logprobs": [_token(data(t), lp) for t, lp in i.top],
            }
            for i in items
        ]
        return {"content": content}

    def reply(self, text: str) -> dict[str, Any]:
        calls = self.calls(text)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "tool_calls" if calls else self.reason(),
            "logprobs": self.logprobs(),
        }
        return {
            **self.base,
            "object": "chat.completion",
            "choices": [choice],
            "usage": self.stats.usage(),
            "sources": self.stats.sources,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        logprobs = self.logprobs() if delta.get("content") or finish_reason else None
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": logprobs}
        return {**self.base, "object": "chat.completion.chunk", "choices": [choice]}

    def opening(self) -> list[Event]:
        return [self.chunk({"role": "assistant", "content": ""}, None)]

    def piece(self, text: str) -> Event | None:
        if self.call is not None:  # held until the call is known to be complete
            self.held.append(text)
            return None
        return self.chunk({"content": text}, None)

    def closing(self) -> list[Event]:
        events: list[Event] = []
        reason = self.reason()
        if self.call is not None:
            text = "".join(self.held)
            calls = self.calls(text)
            if calls:  # OpenAI's shape: the call's id, name and arguments under an index
                reason = "tool_calls"
                events.append(self.chunk({"tool_calls": [{"index": 0, **calls[0]}]}, None))
            elif text:
                events.append(self.chunk({"content": text}, None))
        # our extension, as on the whole answer: the passages the answer was given
        events.append({**self.chunk({}, reason), "sources": self.stats.sources})
        if self.include_usage:
            events.append(
                {
                    **self.base,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": self.stats.usage(),
                }
            )
        return [*events, "[DONE]"]


async def sse_events(pieces: AsyncIterator[str], wire: Wire, close: Close) -> AsyncIterator[str]:
    """The answer as SSE lines in `wire`'s format; `close` runs once with how it ended and
    the text sent so far (an engine failure ends the stream with one error event)."""
    output: list[str] = []
    try:
        for event in wire.opening():
            yield sse(event)
        async for piece in pieces:
            output.append(piece)
            delta = wire.piece(piece)
            if delta is not None:
                yield sse(delta)
        for event in wire.closing():
            yield sse(event)
        close(200, None, "".join(output))
    except GenerationError as exc:
        yield sse(ApiError(500, str(exc), code="generation_failed").body())
        close(500, str(exc), "".join(output))
    except Exception:
        log.exception("request %s failed while streaming", wire.request_id)
        yield sse(ApiError(500, INTERNAL, code="internal_error").body())
        close(500, "internal_error", "".join(output))


class EventStream(StreamingResponse):
    """SSE response that always runs `on_close` (cancel generation, log) when it ends,
    also when Starlette stops it because the client disconnected."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None]) -> None:
        super().__init__(content, headers=SSE_HEADERS)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()
