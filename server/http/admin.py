"""POST /admin/model: switch the served model without a restart; POST /admin/models: serve
one more model beside the others (server/http/model_pool.py).

The new model loads in a worker thread while the old one keeps answering; then the runtime
is swapped, so every request from then on goes to the new model, and the old engine takes no
more requests but finishes the answers it has (for up to --switch-grace-seconds) before its
thread is joined in the background and its memory freed. One switch at a time: another one
while a model loads gets 409. The route needs the admin key (403 when none is configured:
an admin route is never open by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import ModelSwitchRequest
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.runtime import load_in_thread

log = logging.getLogger("persian_chat.server")

ROUTE = "/admin/model"
ADD_ROUTE = "/admin/models"


def served_dir(model_dir: str) -> Path:
    """The absolute directory (its name is the model id), or 400 naming `model_dir` when it
    holds no manifest.json: that is no served model, so nothing is loaded."""
    try:
        path = Path(model_dir).resolve()
        found = (path / "manifest.json").is_file()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the OS
        raise ApiError(
            400,
            f"model_dir: not a usable path ({exc})",
            param="model_dir",
            code="invalid_model_dir",
        ) from None
    if not found:
        raise ApiError(
            400,
            f"model_dir: {path} has no manifest.json (not a served model "
            "directory; see `persian-chat export`)",
            param="model_dir",
            code="not_a_served_model",
        )
    return path


async def _switch(state: AppState, path: Path) -> dict[str, Any]:
    settings = state.settings.model_copy(update={"model_dir": path})
    started = time.monotonic()
    try:
        runtime = await load_in_thread(state.loader, settings)
    except Exception as exc:  # checksums, a broken graph: the old model serves on
        log.warning(
            "switching to %s failed, still serving %s: %s", path, state.settings.model_dir.name, exc
        )
        raise ApiError(
            422, f"model_dir: {exc}", param="model_dir", code="model_load_failed"
        ) from None
    seconds = time.monotonic() - started
    try:
        old = state.ready()  # the server may have begun stopping while the model loaded
    except ApiError:
        runtime.engine.shutdown(0)
        raise
    state.runtime, state.settings = runtime, settings
    grace = settings.switch_grace_seconds
    state.drain(old)
    new_id, old_id = runtime.model.model_id, old.model.model_id
    log.info(
        "switched the served model from %s to %s (loaded in %.1f s); %s finishes its "
        "%d running answers within %.0f s",
        old_id,
        new_id,
        seconds,
        old_id,
        old.engine.active + old.engine.waiting,
        grace,
    )
    return {"model": new_id, "previous": old_id, "load_seconds": round(seconds, 3)}


async def _admin_route(
    request: Request, route: str, act: Callable[[AppState, Path], Awaitable[dict[str, Any]]]
) -> Response:
    """An admin POST {"model_dir": ...}: the admin key, the body, the server ready and the
    directory checked, then `act` answers; every outcome is counted under `route`."""
    state: AppState = request.app.state.app_state
    status = 200
    try:
        state.gate.authorize_admin(request)
        body = await state.gate.read_body(request, ModelSwitchRequest)
        state.ready()
        path = await asyncio.to_thread(served_dir, body.model_dir)
        return JSONResponse(await act(state, path))
    except ApiError as exc:
        status = exc.status
        return exc.response()
    finally:
        state.metrics.requests.labels(route, str(status)).inc()


async def _switch_once(state: AppState, path: Path) -> dict[str, Any]:
    if state.switching.locked():
        raise ApiError(
            409,
            "another model switch is loading; retry when it has ended",
            code="switch_in_progress",
        )
    async with state.switching:
        return await _switch(state, path)


async def _add(state: AppState, path: Path) -> dict[str, Any]:
    if path.name in state.model_ids():
        raise ApiError(
            409,
            f"a model named {path.name!r} is served already",
            param="model_dir",
            code="model_exists",
        )
    state.pool.add(path)
    log.info("serving %s too (%s): it loads on its first request", path.name, path)
    return {"model": path.name, "models": state.model_ids()}


async def switch_model(request: Request) -> Response:
    """POST /admin/model {"model_dir": ...}: 200 {"model", "previous", "load_seconds"}."""
    return await _admin_route(request, ROUTE, _switch_once)


async def add_model(request: Request) -> Response:
    """POST /admin/models {"model_dir": ...}: serve that model too, beside the others (the
    studio's "serve" of a version); it loads on its first request. 200 {"model", "models"}."""
    return await _admin_route(request, ADD_ROUTE, _add)
