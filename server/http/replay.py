"""Streams that survive a dropped connection: a phone that changes networks mid-answer
reconnects with `Last-Event-ID` and gets the events it missed, then the rest.

A resumable stream's generation runs in its own task, independent of the HTTP connection;
its SSE events are numbered (`id: <request id>:<n>`) and kept. When the last reader leaves
before the end, the generation goes on for the grace period; a reader that comes back in
time continues from its last event id, otherwise the generation is cancelled as for any
closed connection. A finished stream is kept for the grace period too, so a client that
lost the last events can still fetch them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class Replay:
    def __init__(
        self,
        request_id: str,
        key: str | None,
        grace_seconds: float,
        registry: dict[str, Replay],
        abandon: Callable[[], None],
    ) -> None:
        self.request_id, self.key = request_id, key
        self.grace_seconds = grace_seconds
        self.registry = registry  # the app's live replays, by request id
        self.abandon = abandon  # cancel the generation and log the request as abandoned
        self.events: list[str] = []
        self.done = False
        self.readers = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        registry[request_id] = self

    def start(self, source: AsyncIterator[str]) -> None:
        """Run `source` (SSE blocks "data: ...\\n\\n") to its end, numbering each block."""
        self._task = asyncio.ensure_future(self._pump(source))

    async def _pump(self, source: AsyncIterator[str]) -> None:
        try:
            async for block in source:
                self.events.append(f"id: {self.request_id}:{len(self.events)}\n{block}")
                self._notify()
        finally:
            self.done = True
            self._notify()
            if self.readers == 0:
                self._expire_later()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def attach(self) -> None:
        """A reader arrived: the stream is no longer abandoned."""
        self.readers += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def detach(self) -> None:
        """A reader left (its connection closed, however it ended)."""
        self.readers -= 1
        if self.readers == 0:
            self._expire_later()

    async def follow(self, after: int) -> AsyncIterator[str]:
        """The events after number `after` (-1: all), then each new one until the end."""
        index = after + 1
        while True:
            while index < len(self.events):
                yield self.events[index]
                index += 1
            if self.done:
                return
            await self._changed.wait()

    def _expire_later(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.grace_seconds, self.cancel)

    def cancel(self) -> None:
        """Forget the stream; a generation still running is cancelled and logged."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.registry.get(self.request_id) is self:
            del self.registry[self.request_id]
        if not self.done and self._task is not None:
            self._task.cancel()
            self.abandon()


def parse_event_id(value: str) -> tuple[str, int] | None:
    """(request id, event number) of a `Last-Event-ID` value; None if it is not one of ours."""
    request_id, _, number = value.strip().rpartition(":")
    if not request_id or not number.isdigit():
        return None
    with contextlib.suppress(ValueError):
        return request_id, int(number)
    return None
