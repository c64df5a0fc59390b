"""What one app instance holds: settings, the gate, metrics, the first model's runtime once
loaded, the models served beside it, and the engines still finishing answers after a switch
or an unload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.gate import Gate
from persian_chat.server.http.metrics import Metrics
from persian_chat.server.http.model_pool import ModelPool
from persian_chat.server.http.replay import Replay
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.settings import ServerSettings

log = logging.getLogger("persian_chat.server")

RETIRE_POLL_SECONDS = 0.5


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
    gate: Gate = field(init=False)
    replays: dict[str, Replay] = field(default_factory=dict)  # resumable streams, by id
    # POST /admin/model: held while a new model loads (a second switch gets 409)
    switching: asyncio.Lock = field(default_factory=asyncio.Lock)
    # runtimes replaced by a switch whose engines still finish the answers they had
    draining: list[Runtime] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # referenced until done

    pool: ModelPool = field(init=False)

    def __post_init__(self) -> None:
        self.gate = Gate(self.settings)
        self.pool = ModelPool(self.settings.more_models, self.drain)

    def runtimes(self) -> list[Runtime]:
        """Every runtime with an engine: the first model's, the other models loaded, and
        the old ones still draining (what shutdown must stop, what the gauges add up)."""
        first = [self.runtime] if self.runtime is not None else []
        return first + self.pool.loaded() + self.draining

    def serving(self, runtime: Runtime) -> bool:
        """Whether `runtime` still takes requests (not switched out or unloaded)."""
        return runtime is self.runtime or any(runtime is r for r in self.pool.loaded())

    def model_ids(self) -> list[str]:
        first = [self.runtime.model.model_id] if self.runtime is not None else []
        return first + [i for i in self.pool.ids() if i not in first]

    async def runtime_for(self, requested: str | None) -> Runtime:
        """The runtime a request's `model` names (None: the first model); 404 naming it when
        this server has no such model, 503 while the server is not ready."""
        first = self.ready()
        if requested in (None, first.model.model_id):
            return first
        if requested not in self.pool:
            raise ApiError(
                404,
                f"model {requested!r} not found; this server has "
                + ", ".join(repr(i) for i in self.model_ids()),
                param="model",
                code="model_not_found",
            )
        return await self.pool.runtime(requested, self.settings, self.loader)

    def drain(self, old: Runtime) -> None:
        """Stop giving `old` requests; its engine finishes the answers it has (for up to
        switch_grace_seconds), then its thread is joined in the background."""
        old.engine.shutdown(self.settings.switch_grace_seconds)
        self.draining.append(old)
        task = asyncio.create_task(self._retire(old))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _retire(self, old: Runtime) -> None:
        """Wait, without blocking the event loop, until the old engine has finished its
        answers (or its grace ran out) and its thread ended; then forget it."""
        while not old.engine.join(0):
            await asyncio.sleep(RETIRE_POLL_SECONDS)
        self.draining = [r for r in self.draining if r is not old]
        log.info("%s retired: its last answers are finished", old.model.model_id)

    def ready(self) -> Runtime:
        if self.runtime is None or self.status != "ready":
            raise ApiError(
                503,
                f"the model is {self.status}" + (f": {self.error}" if self.error else ""),
                code=f"model_{self.status}",
                headers={"Retry-After": "5"},
            )
        return self.runtime
