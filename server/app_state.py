"""What one app instance holds: settings, the gate, metrics, and the runtime once loaded."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self.gate = Gate(self.settings)

    def ready(self) -> Runtime:
        if self.runtime is None or self.status != "ready":
            raise ApiError(
                503,
                f"the model is {self.status}" + (f": {self.error}" if self.error else ""),
                code=f"model_{self.status}",
                headers={"Retry-After": "5"},
            )
        return self.runtime
