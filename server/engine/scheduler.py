"""What the engine runs next: the waiting queue, admission into the batch, cancellations
and the shutdown deadline, turned into a plan for the next round (as vLLM v1 splits its
scheduler from the core that runs the model).

Pure bookkeeping, no model: the engine thread asks for a plan at every step boundary
(blocking while there is nothing to do), prefills what the plan admits, drops what it ends
and decodes the rest; request threads submit and cancel through the same lock. Tested on
its own with stand-in requests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

SHUTDOWN_MESSAGE = "server shutting down"

Request = TypeVar("Request")


class EngineFullError(Exception):
    """Every batch slot and queue place is taken; the client should retry later."""


class EngineClosedError(Exception):
    """The engine is shutting down (or its loop failed) and takes no new requests."""


@dataclass
class Plan(Generic[Request]):
    """One round: requests to prefill now (in arrival order), and whether the deadline has
    passed (then `admit` holds every request that was waiting, to end with an error along
    with the running ones)."""

    admit: list[Request] = field(default_factory=list)
    expired: bool = False


class Scheduler(Generic[Request]):
    """Admission up to `max_batch` rows, a queue of `max_waiting` beyond them; thread-safe."""

    def __init__(self, max_batch: int, max_waiting: int) -> None:
        if max_batch < 1 or max_waiting < 0:
            raise ValueError("max_batch must be >= 1 and max_waiting >= 0")
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.failure: str | None = None  # why the engine loop died, if it did
        self.closing = False
        self.deadline = float("inf")
        self.admitting = 0  # taken from the queue, not yet a running row or ended
        self.admitted: list[Request] = []  # those requests
        self._waiting: deque[Request] = deque()
        self._cond = threading.Condition()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, request: Request, running: int) -> None:
        """Queue `request` (`running`: rows in the batch now); EngineFullError when every
        place is taken, EngineClosedError once shutting down."""
        with self._cond:
            if self.failure is not None:
                raise EngineClosedError(f"the engine stopped: {self.failure}")
            if self.closing:
                raise EngineClosedError(SHUTDOWN_MESSAGE)
            if len(self._waiting) + running + self.admitting >= self.max_batch + self.max_waiting:
                raise EngineFullError(f"{self.max_batch} running and {self.max_waiting} waiting")
            self._waiting.append(request)
            self._cond.notify()

    def close(self, grace_seconds: float) -> None:
        """Take no new requests; the deadline for the running ones is `grace_seconds` from
        now (a later call may bring it closer, never push it back)."""
        with self._cond:
            self.closing = True
            self.deadline = min(self.deadline, time.monotonic() + grace_seconds)
            self._cond.notify()

    def fail(self, reason: str) -> list[Request]:
        """The loop died: refuse everything from now on; the requests it had not started."""
        with self._cond:
            self.failure, self.closing = reason, True
            left = [*self.admitted, *self._waiting]
            self._waiting.clear()
            self.admitted, self.admitting = [], 0
        return left

    def plan(self, running: int, timeout: float | None = None) -> Plan[Request] | None:
        """The next round for a batch with `running` rows: blocks while there is nothing to
        run (up to `timeout`, then an empty plan); None when closing with nothing left, so
        the loop ends."""
        with self._cond:
            if not self._waiting and not running and not self.closing:
                self._cond.wait(timeout)
            if self.closing and not self._waiting and not running:
                return None
            admit: list[Request] = []
            while self._waiting and running + len(admit) < self.max_batch:
                admit.append(self._waiting.popleft())
            expired = time.monotonic() > self.deadline
            if expired:
                admit.extend(self._waiting)
                self._waiting.clear()
            self.admitting, self.admitted = (0, []) if expired else (len(admit), admit)
            return Plan(admit, expired)

    def started(self, request: Request) -> None:
        """`request` left admission: it is a running row now, or it ended."""
        with self._cond:
            self.admitting -= 1
            self.admitted = [r for r in self.admitted if r is not request]
