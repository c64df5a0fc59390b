"""Stop strings on a text stream: hold back only what could still become a stop string.

A stop string may arrive split over several streamed pieces ("<en" + "d>"), so the matcher
keeps the longest tail of its buffer that is a prefix of some stop string and emits the rest;
when a stop string completes, the text before it is emitted and generation ends.
"""

from __future__ import annotations


class StopMatcher:
    def __init__(self, stops: tuple[str, ...] | list[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.buffer = ""
        self.stopped = False

    def _held_back(self) -> int:
        """Length of the longest buffer tail that is a proper prefix of a stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.buffer)), longest, -1):
                if self.buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def feed(self, piece: str) -> str:
        """Text that is safe to emit now; sets `stopped` when a stop string completed."""
        if self.stopped:
            return ""
        self.buffer += piece
        hits = [(index, stop) for stop in self.stops if (index := self.buffer.find(stop)) >= 0]
        if hits:
            index = min(i for i, _ in hits)
            out, self.buffer, self.stopped = self.buffer[:index], "", True
            return out
        keep = self._held_back()
        out = self.buffer[: len(self.buffer) - keep]
        self.buffer = self.buffer[len(self.buffer) - keep :]
        return out

    def flush(self) -> str:
        """At the end of generation, the held-back text was not a stop string after all."""
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out
