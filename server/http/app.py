"""The HTTP API: /api/chat (our SSE format), /v1/chat/completions and /v1/models (OpenAI's),
/tokenize and /detokenize (vLLM's), /health and /metrics, and POST /admin/model (switch the
served model, server/http/admin.py). Starlette only; the model runs in the engine's thread.

Routes are small: a chat POST goes to the chat service (server/http/chat_service.py), which
walks it through the gate, the prompt, the engine, the text stream and the wire format.
Every refusal is one JSON error naming the field; streams stop generating as soon as the
client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from persian_chat.server.http.admin import ADD_ROUTE, add_model, switch_model
from persian_chat.server.http.admin import ROUTE as ADMIN_ROUTE
from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import ChatRequest, OpenAIChatRequest
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.chat_service import cancel_chat, chat_response
from persian_chat.server.http.completions import ROUTE as COMPLETIONS
from persian_chat.server.http.completions import completion_response
from persian_chat.server.http.knowledge_route import knowledge_search
from persian_chat.server.http.openapi import build_openapi
from persian_chat.server.http.runtime import Runtime, load_runtime
from persian_chat.server.http.tokenize_routes import detokenize, tokenize
from persian_chat.server.http.wire import INTERNAL, OpenAIWire, Wire
from persian_chat.server.settings import ServerSettings

log = logging.getLogger("persian_chat.server")

WATCHDOG_SECONDS = 0.5


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.app_state
    return state


async def load(state: AppState) -> None:
    """Load the runtime in a worker thread, then watch the engine: a dead engine must not
    look healthy, so the app fails and `on_fatal` lets the supervisor restart the server (a
    model that cannot load at start-up too: there is nothing to serve). The watchdog and the
    gauges read `state.runtime` each time, so they follow a model switch; an old engine
    shut down on purpose by the switch is no longer the runtime, never a 'dead engine'."""
    try:
        runtime = await asyncio.to_thread(state.loader, state.settings)
    except Exception as exc:
        log.exception("loading %s failed", state.settings.model_dir)
        state.status, state.error = "failed", str(exc)
        state.on_fatal()
        return
    state.pool.measure_cap(state.settings)  # what is left once the first model is in memory
    state.runtime, state.status = runtime, "ready"
    state.metrics.watch_engine(lambda: [r.engine for r in state.runtimes()])
    while state.status == "ready":
        current = state.runtime
        if current is not None and not current.engine.alive:
            state.status = "failed"
            state.error = f"engine stopped: {current.engine.failure or 'thread ended'}"
            log.error("%s; exiting so the supervisor can restart the server", state.error)
            state.on_fatal()
            return
        await asyncio.sleep(WATCHDOG_SECONDS)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    state: AppState = app.state.app_state
    loading = asyncio.create_task(load(state))
    app.state.loading = loading
    try:
        yield
    finally:
        if state.status != "failed":
            state.status = "stopping"
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading
        for task in list(state.tasks):  # background joins of switched-out engines
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        runtimes = state.runtimes()  # the current one and any still draining after a switch
        for runtime in runtimes:
            runtime.engine.shutdown(0)
        for runtime in runtimes:
            await asyncio.to_thread(runtime.engine.join, 10)


async def api_chat(request: Request) -> Response:
    return await chat_response(request, "/api/chat", ChatRequest, Wire)


async def openai_chat(request: Request) -> Response:
    return await chat_response(request, "/v1/chat/completions", OpenAIChatRequest, OpenAIWire)


async def models(request: Request) -> Response:
    """GET /v1/models: every model this server answers with, loaded or not (`loaded` is
    ours: whether its first request would wait for it to load)."""
    state = _state(request)
    try:
        first = state.ready()
        state.gate.authorize(request)
    except ApiError as exc:
        return exc.response()
    loaded = {r.model.model_id: r for r in [first, *state.pool.loaded()]}
    data = []
    for model_id in state.model_ids():
        runtime = loaded.get(model_id)
        created = (
            runtime.loaded_at if runtime else state.pool.entries[model_id].path.stat().st_mtime
        )
        entry = {"id": model_id, "object": "model", "created": int(created)}
        data.append({**entry, "owned_by": "persian-chat", "loaded": runtime is not None})
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    state = _state(request)
    runtime = state.runtime
    if state.status == "ready" and runtime is not None and runtime.engine.alive:
        return JSONResponse(
            {
                "status": "ok",
                "model": runtime.model.model_id,
                "models": state.model_ids(),
                "active": runtime.engine.active,
                "waiting": runtime.engine.waiting,
            }
        )
    status, error = state.status, state.error
    if runtime is not None and not runtime.engine.alive:  # before the watchdog notices
        status, error = "failed", f"engine stopped: {runtime.engine.failure}"
    body = {"status": status, "error": error}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def metrics(request: Request) -> Response:
    body = _state(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4")


async def not_found(request: Request, exc: Exception) -> Response:
    return ApiError(404, f"no route {request.url.path}", code="not_found").response()


async def not_allowed(request: Request, exc: Exception) -> Response:
    headers = dict(getattr(exc, "headers", None) or {})  # Starlette's Allow header
    message = f"{request.method} not allowed here"
    return ApiError(405, message, code="method_not_allowed", headers=headers).response()


async def internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    _state(request).metrics.requests.labels(request.url.path, "500").inc()
    return ApiError(500, INTERNAL, code="internal_error").response()


ROUTES = [
    Route("/api/chat", api_chat, methods=["POST"]),
    Route("/api/chat/{request_id}", cancel_chat, methods=["DELETE"]),
    Route("/v1/chat/completions", openai_chat, methods=["POST"]),
    Route(COMPLETIONS, completion_response, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/tokenize", tokenize, methods=["POST"]),
    Route("/detokenize", detokenize, methods=["POST"]),
    Route("/knowledge/search", knowledge_search, methods=["POST"]),
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route(ADMIN_ROUTE, switch_model, methods=["POST"]),
    Route(ADD_ROUTE, add_model, methods=["POST"]),
]


def create_app(
    settings: ServerSettings, loader: Callable[[ServerSettings], Runtime] = load_runtime
) -> Starlette:
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
        routes=ROUTES,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal_error},
    )
    app.router.redirect_slashes = False  # an API answers the path it was given, no 307s
    app.state.app_state = AppState(settings, loader)
    app.state.openapi = build_openapi(settings)
    return app
