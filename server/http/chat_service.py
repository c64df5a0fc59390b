"""A chat request from the gate to its last byte, for both chat routes.

`chat_response` runs the path once, in order: gate (key, rate limit, body, schema) →
prompt (limits, normalization, context fitting, ids; in a worker thread so the event loop
stays free) → engine submit → text stream → wire format. `ChatStream` is the request on that
path: it holds what the log and metrics need and `close` records how it ended, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from persian_chat.server.engine.core import EngineClosedError, EngineFullError
from persian_chat.server.engine.generation import Generation
from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import ChatRequest, OpenAIChatRequest
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.gate import cache_scope
from persian_chat.server.http.prompt_request import build_prompt
from persian_chat.server.http.replay import Replay, parse_event_id
from persian_chat.server.http.request_log import log_request
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.http.wire import INTERNAL, EventStream, Wire, sse_events
from persian_chat.server.text.prompt import Prompt, PromptError
from persian_chat.server.text.stream import GenerationError, StreamStats, stream_text

log = logging.getLogger("persian_chat.server")

BUSY_RETRY_SECONDS = 2
ChatBody = ChatRequest | OpenAIChatRequest
# field names the log may name (a client's unknown field names are its own strings)
KNOWN_FIELDS = frozenset(OpenAIChatRequest.model_fields) | frozenset(ChatRequest.model_fields)


class ModelSwitchedError(Exception):
    """The model a request was prompted for was switched out before its engine took it;
    the request starts again on the model now served (the prompt depends on the model)."""


@dataclass
class ChatStream:
    """One chat request on its way through the server."""

    route: str
    state: AppState
    request_id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex[:24])
    key: str | None = None
    model: str | None = None  # the id of the model the request was prompted for
    prompt: Prompt | None = None
    stats: StreamStats | None = None
    sequence: Generation | None = None
    closed: bool = False

    async def start(self, runtime: Runtime, body: ChatBody, scope: str) -> None:
        """Prompt the request and submit it; `scope` is its prompt-cache partition."""
        settings, self.model = self.state.settings, runtime.model.model_id
        try:
            self.prompt = await asyncio.to_thread(
                build_prompt,
                body,
                body.requested_max_tokens,
                runtime.model,
                settings,
                runtime.normalize,
                scope,
                runtime.knowledge,
            )
        except PromptError as exc:
            raise ApiError(400, exc.message, param=exc.param, code=exc.code) from None
        self.stats = StreamStats(prompt_tokens=len(self.prompt.request.prompt))
        self.stats.sources = [{"id": p.id, "title": p.title} for p in self.prompt.sources]
        if runtime.knowledge is not None and body.knowledge:
            found = "found" if self.prompt.sources else "empty"
            self.state.metrics.knowledge_retrievals.labels(found).inc()
        await self.submit(runtime)

    async def submit(self, runtime: Runtime) -> None:
        """Hand the prompted request to the engine: 429 when it is full, 503 when it is
        shutting down (or the model was switched out: the caller prompts again)."""
        assert self.prompt is not None and self.stats is not None
        try:
            self.sequence = runtime.engine.submit(self.prompt.request, asyncio.get_running_loop())
        except EngineFullError:
            raise ApiError(
                429,
                "the server is busy, retry shortly",
                code="server_busy",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            ) from None
        except EngineClosedError:
            if self.state.status == "ready" and not self.state.serving(runtime):
                raise ModelSwitchedError from None
            raise ApiError(503, "the server is shutting down", code="shutting_down") from None
        self.state.metrics.prompt_tokens.labels(self.model).inc(self.stats.prompt_tokens)

    def pieces(self, runtime: Runtime) -> AsyncIterator[str]:
        assert self.sequence and self.stats and self.prompt
        return stream_text(self.sequence, runtime.model, self.prompt.stops, self.stats)

    async def text(self, request: Request, runtime: Runtime) -> str:
        """The whole answer at once; stops generating if the client leaves."""

        async def gather() -> str:
            return "".join([p async for p in self.pieces(runtime)])

        async def until_disconnect() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        work = asyncio.ensure_future(gather())
        gone = asyncio.ensure_future(until_disconnect())
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            if self.sequence is not None:
                self.sequence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            raise ClientDisconnect()
        gone.cancel()
        return work.result()

    def close(
        self, status: int, error: str | None = None, output: str = "", param: str | None = None
    ) -> None:
        """Count, time and log the request once, however it ended. `error` is a code or a
        server-made message, never text the client sent (that needs --log-user-text). A
        request that reached a model counts under that model: ok unless the server failed
        it (5xx; a client that left is not the model's failure)."""
        if self.closed:
            return
        self.closed = True
        if self.sequence is not None:
            self.sequence.cancel()
        metrics, settings, s, p = self.state.metrics, self.state.settings, self.stats, self.prompt
        metrics.requests.labels(self.route, str(status)).inc()
        if s is not None and self.model is not None:  # set together in `start`
            if s.time_to_first_token is not None:
                metrics.time_to_first_token.labels(self.model).observe(s.time_to_first_token)
            for gap in s.inter_token_latencies:
                metrics.inter_token_latency.observe(gap)
            metrics.generated_tokens.labels(self.model).inc(s.completion_tokens)
            if self.sequence is not None:
                metrics.prompt_cached_tokens.labels(self.model).inc(self.sequence.cached_tokens)
            metrics.request_duration.labels(self.model).observe(time.monotonic() - s.started)
        if self.sequence is not None and self.model is not None:
            outcome = "ok" if status < 500 else "error"
            metrics.model_requests.labels(self.model, outcome).inc()
        log_request(
            id=self.request_id,
            route=self.route,
            key_id=self.key,
            status=status,
            prompt_tokens=s and s.prompt_tokens,
            completion_tokens=s and s.completion_tokens,
            dropped_messages=p and p.dropped_messages,
            finish_reason=s and s.finish_reason,
            ttft_s=s and s.time_to_first_token,
            duration_s=s and (time.monotonic() - s.started),
            error=error,
            param=param,
            messages=p.messages if settings.log_user_text and p else None,
            output=output if settings.log_user_text else None,
        )


def _resume(state: AppState, key: str, last_event_id: str) -> Response:
    """The rest of a resumable stream, after the event the client saw last."""
    parsed = parse_event_id(last_event_id)
    replay = state.replays.get(parsed[0]) if parsed else None
    if parsed is None or replay is None or replay.key != key:
        raise ApiError(
            404,
            "no stream to resume with this Last-Event-ID (it ended over the "
            "grace period ago, or never existed)",
            code="stream_not_found",
        )
    replay.attach()
    return EventStream(replay.follow(parsed[1]), replay.detach)


async def _respond(
    request: Request, stream: ChatStream, schema: type[ChatBody], wire_type: type[Wire]
) -> Response:
    state = stream.state
    state.ready()
    stream.key = state.gate.authorize(request)
    body = await state.gate.admit(request, stream.key, schema)
    runtime = await state.runtime_for(body.model)
    last_event_id = request.headers.get("last-event-id")
    if last_event_id is not None:
        resumed = _resume(state, stream.key, last_event_id)
        stream.closed = True  # a reconnection: the original request logs itself
        return resumed
    scope = cache_scope(state.gate.client(request, stream.key), body.cache_salt)
    while True:  # more than once only if a model switch ends between prompt and submit
        try:
            await stream.start(runtime, body, scope)
            break
        except ModelSwitchedError:
            runtime = await state.runtime_for(body.model)
    assert stream.stats is not None
    model = runtime.model
    model_id = model.model_id
    wire = wire_type(
        stream.request_id, model_id, stream.stats, body, lambda: model.vocabulary_bytes
    )
    if not body.stream:
        text = await stream.text(request, runtime)
        stream.close(200, output=text)
        return JSONResponse(wire.reply(text))
    events = sse_events(stream.pieces(runtime), wire, stream.close)
    if not body.resumable:
        return EventStream(events, lambda: stream.close(499, "client disconnected"))
    replay = Replay(
        stream.request_id,
        stream.key,
        state.settings.resume_grace_seconds,
        state.replays,
        lambda: stream.close(499, "client disconnected"),
    )
    replay.start(events)
    replay.attach()
    return EventStream(replay.follow(-1), replay.detach)


async def cancel_chat(request: Request) -> Response:
    """DELETE /api/chat/{id}: stop a resumable stream now (closing its connection would
    leave it running for the grace period, waiting for a reconnection)."""
    state: AppState = request.app.state.app_state
    status = 200
    try:
        state.ready()
        key = state.gate.authorize(request)
        request_id = request.path_params["request_id"]
        replay = state.replays.get(request_id)
        if replay is None or replay.key != key:
            raise ApiError(404, f"no running stream {request_id!r}", code="stream_not_found")
        replay.cancel()
        return JSONResponse({"id": request_id, "cancelled": True})
    except ApiError as exc:
        status = exc.status
        return exc.response()
    finally:
        state.metrics.requests.labels("/api/chat/{id}", str(status)).inc()


async def chat_response(
    request: Request, route: str, schema: type[ChatBody], wire_type: type[Wire]
) -> Response:
    """The response to a chat POST; every failure is one JSON error, logged and counted."""
    stream = ChatStream(route, request.app.state.app_state)
    return await guarded(stream, _respond(request, stream, schema, wire_type))


async def guarded(stream: ChatStream, respond: Awaitable[Response]) -> Response:
    """`respond`'s response, or the one JSON error its failure becomes; `stream` logs and
    counts the request once either way."""
    try:
        return await respond
    except ApiError as exc:
        known = exc.param and exc.param.split(".")[0] in KNOWN_FIELDS
        stream.close(
            exc.status, exc.code or f"http_{exc.status}", param=exc.param if known else None
        )
        return exc.response()
    except ClientDisconnect:
        stream.close(499, "client disconnected")
        return Response(status_code=499)
    except GenerationError as exc:
        stream.close(500, str(exc))
        return ApiError(500, str(exc), code="generation_failed").response()
    except Exception:
        log.exception("request %s failed", stream.request_id)
        stream.close(500, "internal_error")
        return ApiError(500, INTERNAL, code="internal_error").response()
