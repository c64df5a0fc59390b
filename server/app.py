"""The HTTP API: /api/chat (our SSE format), /v1/chat/completions and /v1/models (OpenAI's),
/health and /metrics. Starlette only; the model runs in the engine's thread.

Every POST goes through the same gate — model ready, API key, rate limit, body size, JSON,
schema, server limits, engine capacity — and every refusal is one JSON error naming the
field. Streams stop generating as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from persian_chat.server.api_errors import ApiError, from_validation_error
from persian_chat.server.api_schema import ChatRequest, OpenAIChatRequest, SamplingFields
from persian_chat.server.auth import ApiKeys
from persian_chat.server.chat_request import ChatJob, build_job
from persian_chat.server.engine import EngineClosedError, EngineFullError, Sequence
from persian_chat.server.generation import Generation, GenerationError, stream_text
from persian_chat.server.json_body import parse_body
from persian_chat.server.metrics import Metrics
from persian_chat.server.openapi import build_openapi
from persian_chat.server.rate_limit import RateLimiter, retry_after_header
from persian_chat.server.request_log import log_request
from persian_chat.server.runtime import Runtime, load_runtime
from persian_chat.server.settings import ServerSettings

log = logging.getLogger("persian_chat.server")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUSY_RETRY_SECONDS = 2
WATCHDOG_SECONDS = 0.5
INTERNAL = "internal server error"
# field names the log may name (a client's unknown field names are its own strings)
KNOWN_FIELDS = frozenset(OpenAIChatRequest.model_fields) | frozenset(ChatRequest.model_fields)


@dataclass
class AppState:
    settings: ServerSettings
    loader: Callable[[ServerSettings], Runtime]
    metrics: Metrics = field(default_factory=Metrics)
    status: str = "loading"  # loading | ready | failed | stopping
    runtime: Runtime | None = None
    error: str | None = None
    # called once when the engine loop dies; `serve` uses it to exit non-zero
    on_fatal: Callable[[], None] = lambda: None

    def ready(self) -> Runtime:
        if self.runtime is None or self.status != "ready":
            raise ApiError(
                503,
                f"the model is {self.status}" + (f": {self.error}" if self.error else ""),
                code=f"model_{self.status}",
                headers={"Retry-After": "5"},
            )
        return self.runtime


@dataclass
class Call:
    """One chat request as it moves through the gate and the stream."""

    route: str
    request_id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex[:24])
    key: str | None = None
    job: ChatJob | None = None
    generation: Generation | None = None
    sequence: Sequence | None = None
    logged: bool = False


def sse(data: dict[str, Any] | str) -> str:
    text = (
        data
        if isinstance(data, str)
        else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    )
    return f"data: {text}\n\n"


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


def create_app(
    settings: ServerSettings, loader: Callable[[ServerSettings], Runtime] = load_runtime
) -> Starlette:
    state = AppState(settings, loader)
    keys = ApiKeys(settings.api_keys)
    limiter = RateLimiter(settings.rate_limit_per_minute)
    auth_failures = RateLimiter(settings.auth_failures_per_minute)
    metrics = state.metrics

    async def load() -> None:
        try:
            runtime = await asyncio.to_thread(loader, settings)
        except Exception as exc:
            log.exception("loading %s failed", settings.model_dir)
            state.status, state.error = "failed", str(exc)
            return
        state.runtime, state.status = runtime, "ready"
        metrics.watch_engine(lambda: runtime.engine.waiting, lambda: runtime.engine.active)
        while state.status == "ready":  # watchdog: a dead engine must not look healthy
            if not runtime.engine.alive:
                state.status = "failed"
                state.error = f"engine stopped: {runtime.engine.failure or 'thread ended'}"
                log.error("%s; exiting so the supervisor can restart the server", state.error)
                state.on_fatal()
                return
            await asyncio.sleep(WATCHDOG_SECONDS)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(load())
        app.state.loading = loading
        try:
            yield
        finally:
            if state.status != "failed":
                state.status = "stopping"
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            if state.runtime is not None:
                state.runtime.engine.shutdown(0)
                await asyncio.to_thread(state.runtime.engine.join, 10)

    # -- the gate ---------------------------------------------------------------------------

    async def read_json(request: Request) -> Any:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, "send the body as Content-Type: application/json",
                           code="unsupported_media_type")  # fmt: skip
        declared = request.headers.get("content-length")
        limit = settings.max_body_bytes
        too_big = ApiError(413, f"request body over {limit} bytes", code="body_too_large")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_big
        return parse_body(bytes(body), settings.max_json_depth)

    def authorize(request: Request) -> str:
        """The caller's key id; a client address that keeps failing is slowed with 429s."""
        address = request.client.host if request.client else "?"
        wait = auth_failures.wait(address)
        if wait:
            raise ApiError(
                429, "too many failed authentications, retry later",
                code="rate_limit_exceeded", headers=retry_after_header(wait),
            )  # fmt: skip
        try:
            return keys.authorize(request.headers.get("authorization"))
        except ApiError:
            auth_failures.acquire(address)
            raise

    async def admit(
        request: Request, call: Call, schema: type[SamplingFields]
    ) -> tuple[Runtime, SamplingFields]:
        runtime = state.ready()
        call.key = authorize(request)
        client = call.key if keys.enabled else (request.client.host if request.client else "?")
        wait = limiter.acquire(client)
        if wait:
            raise ApiError(
                429, "rate limit reached, retry later", code="rate_limit_exceeded",
                headers=retry_after_header(wait),
            )  # fmt: skip
        data = await read_json(request)
        if not isinstance(data, dict):
            raise ApiError(400, "body must be a JSON object", code="invalid_json")
        try:
            body = schema.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc) from None
        return runtime, body

    async def start(
        runtime: Runtime, call: Call, body: SamplingFields, max_tokens: int | None
    ) -> None:
        # normalization (hazm) and tokenization run in a worker thread: the loop stays free
        call.job = await asyncio.to_thread(
            build_job, body, max_tokens, runtime.model, settings, runtime.normalize
        )
        call.generation = Generation(prompt_tokens=len(call.job.request.prompt))
        try:
            call.sequence = runtime.engine.submit(call.job.request, asyncio.get_running_loop())
        except EngineFullError:
            raise ApiError(
                429, "the server is busy, retry shortly", code="server_busy",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            ) from None  # fmt: skip
        except EngineClosedError:
            raise ApiError(503, "the server is shutting down", code="shutting_down") from None
        metrics.prompt_tokens.inc(call.generation.prompt_tokens)

    def finish(
        call: Call, status: int, error: str | None = None, output: str = "",
        param: str | None = None,
    ) -> None:  # fmt: skip
        """Count, time and log a request once, however it ended. `error` is a code or a
        server-made message, never text the client sent (that needs --log-user-text)."""
        if call.logged:
            return
        call.logged = True
        if call.sequence is not None:
            call.sequence.cancel()
        metrics.requests.labels(call.route, str(status)).inc()
        g = call.generation
        if g is not None:
            if g.time_to_first_token is not None:
                metrics.time_to_first_token.observe(g.time_to_first_token)
            for gap in g.inter_token_latencies:
                metrics.inter_token_latency.observe(gap)
            metrics.generated_tokens.inc(g.completion_tokens)
            metrics.request_duration.observe(time.monotonic() - g.started)
        log_request(
            id=call.request_id, route=call.route, key_id=call.key, status=status,
            prompt_tokens=g and g.prompt_tokens, completion_tokens=g and g.completion_tokens,
            dropped_messages=call.job and call.job.dropped_messages,
            finish_reason=g and g.finish_reason, ttft_s=g and g.time_to_first_token,
            duration_s=g and (time.monotonic() - g.started), error=error, param=param,
            messages=call.job.messages if settings.log_user_text and call.job else None,
            output=output if settings.log_user_text else None,
        )  # fmt: skip

    async def until_disconnect(request: Request) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    async def complete(request: Request, call: Call, runtime: Runtime) -> str:
        """The whole reply for a non-streaming request; stops if the client leaves."""
        assert call.sequence is not None and call.generation is not None and call.job
        pieces = stream_text(call.sequence, runtime.model, call.job.stops, call.generation)

        async def gather() -> str:
            return "".join([p async for p in pieces])

        work = asyncio.ensure_future(gather())
        gone = asyncio.ensure_future(until_disconnect(request))
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
            call.sequence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            raise ClientDisconnect()
        gone.cancel()
        return work.result()

    def handler(
        route: str, run: Callable[[Request, Call], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            call = Call(route)
            try:
                return await run(request, call)
            except ApiError as exc:
                known = exc.param and exc.param.split(".")[0] in KNOWN_FIELDS
                finish(call, exc.status, exc.code or f"http_{exc.status}",
                       param=exc.param if known else None)  # fmt: skip
                return exc.response()
            except ClientDisconnect:
                finish(call, 499, "client disconnected")
                return Response(status_code=499)
            except GenerationError as exc:
                finish(call, 500, str(exc))
                return ApiError(500, str(exc), code="generation_failed").response()
            except Exception:
                log.exception("request %s failed", call.request_id)
                finish(call, 500, "internal_error")
                return ApiError(500, INTERNAL, code="internal_error").response()

        return endpoint

    # -- /api/chat --------------------------------------------------------------------------

    async def api_chat(request: Request, call: Call) -> Response:
        runtime, body = await admit(request, call, ChatRequest)
        assert isinstance(body, ChatRequest)
        await start(runtime, call, body, body.max_tokens)
        assert call.sequence and call.generation and call.job
        generation = call.generation

        def summary() -> dict[str, Any]:
            return {
                "done": True, "finish_reason": generation.finish_reason,
                "usage": generation.usage(), "timings": generation.timings(),
                "model": runtime.model.model_id, "id": call.request_id,
            }  # fmt: skip

        if not body.stream:
            text = await complete(request, call, runtime)
            finish(call, 200, output=text)
            return JSONResponse({"message": {"role": "assistant", "content": text}, **summary()})

        pieces = stream_text(call.sequence, runtime.model, call.job.stops, generation)
        output: list[str] = []

        async def events() -> AsyncIterator[str]:
            try:
                async for piece in pieces:
                    output.append(piece)
                    yield sse({"token": piece})
                yield sse(summary())
                finish(call, 200, output="".join(output))
            except GenerationError as exc:
                error = ApiError(500, str(exc), code="generation_failed")
                yield sse(error.body())
                finish(call, 500, str(exc), output="".join(output))
            except Exception:
                log.exception("request %s failed while streaming", call.request_id)
                yield sse(ApiError(500, INTERNAL, code="internal_error").body())
                finish(call, 500, "internal_error", output="".join(output))

        return EventStream(events(), lambda: finish(call, 499, "client disconnected"))

    # -- OpenAI-compatible ------------------------------------------------------------------

    async def openai_chat(request: Request, call: Call) -> Response:
        runtime, body = await admit(request, call, OpenAIChatRequest)
        assert isinstance(body, OpenAIChatRequest)
        model_id = runtime.model.model_id
        if body.model not in (None, model_id):
            raise ApiError(404, f"model {body.model!r} not found; this server has {model_id!r}",
                           param="model", code="model_not_found")  # fmt: skip
        await start(runtime, call, body, body.requested_max_tokens)
        assert call.sequence and call.generation and call.job
        generation = call.generation
        created = int(time.time())
        base = {"id": call.request_id, "created": created, "model": model_id}

        def reason() -> str:
            return "length" if generation.finish_reason == "length" else "stop"

        if not body.stream:
            text = await complete(request, call, runtime)
            finish(call, 200, output=text)
            choice = {"index": 0, "message": {"role": "assistant", "content": text},
                      "finish_reason": reason(), "logprobs": None}  # fmt: skip
            return JSONResponse({**base, "object": "chat.completion", "choices": [choice],
                                 "usage": generation.usage()})  # fmt: skip

        pieces = stream_text(call.sequence, runtime.model, call.job.stops, generation)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def chunk(delta: dict[str, str], finish_reason: str | None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            return sse({**base, "object": "chat.completion.chunk", "choices": [choice]})

        async def events() -> AsyncIterator[str]:
            output: list[str] = []
            try:
                yield chunk({"role": "assistant", "content": ""}, None)
                async for piece in pieces:
                    output.append(piece)
                    yield chunk({"content": piece}, None)
                yield chunk({}, reason())
                if include_usage:
                    yield sse({**base, "object": "chat.completion.chunk", "choices": [],
                               "usage": generation.usage()})  # fmt: skip
                yield sse("[DONE]")
                finish(call, 200, output="".join(output))
            except GenerationError as exc:
                yield sse(ApiError(500, str(exc), code="generation_failed").body())
                finish(call, 500, str(exc), output="".join(output))
            except Exception:
                log.exception("request %s failed while streaming", call.request_id)
                yield sse(ApiError(500, INTERNAL, code="internal_error").body())
                finish(call, 500, "internal_error", output="".join(output))

        return EventStream(events(), lambda: finish(call, 499, "client disconnected"))

    # -- public routes ----------------------------------------------------------------------

    async def models(request: Request) -> Response:
        try:
            runtime = state.ready()
            authorize(request)
        except ApiError as exc:
            return exc.response()
        model = runtime.model
        created = int(runtime.loaded_at)
        entry = {"id": model.model_id, "object": "model", "created": created,
                 "owned_by": "persian-chat"}  # fmt: skip
        return JSONResponse({"object": "list", "data": [entry]})

    async def health(request: Request) -> Response:
        runtime = state.runtime
        if state.status == "ready" and runtime is not None and runtime.engine.alive:
            return JSONResponse({
                "status": "ok", "model": runtime.model.model_id,
                "active": runtime.engine.active, "waiting": runtime.engine.waiting,
            })  # fmt: skip
        status, error = state.status, state.error
        if runtime is not None and not runtime.engine.alive:  # before the watchdog notices
            status, error = "failed", f"engine stopped: {runtime.engine.failure}"
        body = {"status": status, "error": error}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    document = build_openapi(settings)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def not_found(request: Request, exc: Exception) -> Response:
        return ApiError(404, f"no route {request.url.path}", code="not_found").response()

    async def not_allowed(request: Request, exc: Exception) -> Response:
        headers = dict(getattr(exc, "headers", None) or {})  # Starlette's Allow header
        message = f"{request.method} not allowed here"
        return ApiError(405, message, code="method_not_allowed", headers=headers).response()

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        metrics.requests.labels(request.url.path, "500").inc()
        return ApiError(500, INTERNAL, code="internal_error").response()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/api/chat", handler("/api/chat", api_chat), methods=["POST"]),
            Route(
                "/v1/chat/completions",
                handler("/v1/chat/completions", openai_chat),
                methods=["POST"],
            ),
            Route("/v1/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal_error},
    )
    app.router.redirect_slashes = False  # an API answers the path it was given, no 307s
    app.state.app_state = state
    return app
