"""What one app instance holds: settings, the gate, metrics, and the runtime once loaded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from persian_chat.server.api_errors import ApiError
from persian_chat.server.gate import Gate
from persian_chat.server.metrics import Metrics
from persian_chat.server.replay import Replay
from persian_chat.server.runtime import Runtime
from persian_chat.server.settings import ServerSettings


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

    def __post_init__(self) -> None:
        self.gate = Gate(self.settings)

    def runtimes(self) -> list[Runtime]:
        """The current runtime and the old ones still draining: what shutdown must stop."""
        return ([self.runtime] if self.runtime is not None else []) + self.draining

    def ready(self) -> Runtime:
        if self.runtime is None or self.status != "ready":
            raise ApiError(
                503,
                f"the model is {self.status}" + (f": {self.error}" if self.error else ""),
                code=f"model_{self.status}",
                headers={"Retry-After": "5"},
            )
        return self.runtime
