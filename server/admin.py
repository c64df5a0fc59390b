"""POST /admin/model: switch the served model without a restart.

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
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from persian_chat.server.api_errors import ApiError
from persian_chat.server.api_schema import ModelSwitchRequest
from persian_chat.server.app_state import AppState
from persian_chat.server.runtime import Runtime
from persian_chat.server.settings import ServerSettings

log = logging.getLogger("persian_chat.server")

ROUTE = "/admin/model"
RETIRE_POLL_SECONDS = 0.5


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


def _discard(future: asyncio.Future[Runtime]) -> None:
    """Stop the engine of a load that finished after its switch was cancelled."""
    if not future.cancelled() and future.exception() is None:
        future.result().engine.shutdown(0)


async def _load(state: AppState, settings: ServerSettings) -> Runtime:
    """`state.loader(settings)` in a worker thread. A thread cannot be cancelled: if the
    switch is (the server stopping), the engine it starts is shut down, never leaked."""
    future = asyncio.get_running_loop().run_in_executor(None, state.loader, settings)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_discard)
        raise


async def retire(state: AppState, old: Runtime) -> None:
    """Wait, without blocking the event loop, until the old engine has finished its answers
    (or its grace ran out) and its thread ended; then forget it so its memory is freed."""
    while not old.engine.join(0):
        await asyncio.sleep(RETIRE_POLL_SECONDS)
    state.draining = [r for r in state.draining if r is not old]
    log.info("%s retired: its last answers are finished", old.model.model_id)


async def _switch(state: AppState, path: Path) -> dict[str, Any]:
    settings = state.settings.model_copy(update={"model_dir": path})
    started = time.monotonic()
    try:
        runtime = await _load(state, settings)
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
    old.engine.shutdown(grace)
    state.draining.append(old)
    task = asyncio.create_task(retire(state, old))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)
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


async def switch_model(request: Request) -> Response:
    """POST /admin/model {"model_dir": ...}: 200 {"model", "previous", "load_seconds"}."""
    state: AppState = request.app.state.app_state
    status = 200
    try:
        state.gate.authorize_admin(request)
        body = await state.gate.read_body(request, ModelSwitchRequest)
        state.ready()
        path = await asyncio.to_thread(served_dir, body.model_dir)
        if state.switching.locked():
            raise ApiError(
                409,
                "another model switch is loading; retry when it has ended",
                code="switch_in_progress",
            )
        async with state.switching:
            return JSONResponse(await _switch(state, path))
    except ApiError as exc:
        status = exc.status
        return exc.response()
    finally:
        state.metrics.requests.labels(ROUTE, str(status)).inc()
