"""Several models served at once, as Ollama and llama-server serve them: the first model
(`--model`) is loaded at start-up and always stays; the others (`--model` again, or every
served directory in `--models-dir`) load on the first request that names them in `model`,
each with its own engine and batch, and the least recently used ones are unloaded when a new
one would not fit the memory cap.

A model's cost against the cap is the size of its files on disk: the weights are most of a
served model's memory, and the figure is known before loading (a measured RSS delta is not,
and moves with the allocator); the measured delta is logged beside it. The cap is
`--models-memory-mb`, or 80% of the memory the machine had available at start-up, after the
first model loaded. An unloaded model's engine finishes the answers it has, as after a
model switch, so nobody's answer is cut.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.runtime import Runtime, load_in_thread
from persian_chat.server.settings import ServerSettings

log = logging.getLogger("persian_chat.server")

MANIFEST = "manifest.json"
AVAILABLE_SHARE = 0.8  # of MemAvailable at start-up, when no cap is given
MIB = 1024 * 1024


def served_dirs(models_dir: Path) -> list[Path]:
    """The served model directories (with a manifest.json) directly in `models_dir`."""
    return sorted(p for p in models_dir.iterdir() if (p / MANIFEST).is_file())


def files_bytes(path: Path) -> int:
    """The size of a served model's files: what its weights and tokenizer take in memory."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def available_memory() -> int:
    """Bytes the kernel says can be allocated without swapping (MemAvailable); where there is
    no /proc/meminfo, the free physical pages."""
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident memory (for the log line of a load)."""
    try:
        with Path("/proc/self/statm").open(encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@dataclass
class Pooled:
    path: Path
    cost: int  # bytes counted against the cap
    runtime: Runtime | None = None
    last_used: float = 0.0


@dataclass
class ModelPool:
    """The models besides the first, by id (their directory names)."""

    paths: Iterable[Path]
    # the engine of an unloaded model: finish its answers, then free it (AppState.drain)
    drain: Callable[[Runtime], None]
    cap: int | None = None  # bytes; None until measured (the first model loaded)
    entries: dict[str, Pooled] = field(init=False)
    loading: asyncio.Lock = field(default_factory=asyncio.Lock)  # one load at a time

    def __post_init__(self) -> None:
        self.entries = {p.name: Pooled(p, files_bytes(p)) for p in self.paths}

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def add(self, path: Path) -> None:
        """Serve `path` too (its directory name is its id); it loads on first use."""
        self.entries[path.name] = Pooled(path, files_bytes(path))

    def ids(self) -> list[str]:
        return list(self.entries)

    def loaded(self) -> list[Runtime]:
        return [e.runtime for e in self.entries.values() if e.runtime is not None]

    def used(self) -> int:
        return sum(e.cost for e in self.entries.values() if e.runtime is not None)

    def measure_cap(self, settings: ServerSettings) -> int:
        """The cap: the configured one, or a share of the memory available now."""
        if settings.models_memory_mb is not None:
            self.cap = settings.models_memory_mb * MIB
        else:
            self.cap = int(available_memory() * AVAILABLE_SHARE)
        if self.entries:
            log.info(
                "%d more models load on first use, within %d MiB (%s)",
                len(self.entries),
                self.cap // MIB,
                ", ".join(f"{k} {e.cost // MIB} MiB" for k, e in self.entries.items()),
            )
        return self.cap

    async def runtime(
        self,
        model_id: str,
        settings: ServerSettings,
        loader: Callable[[ServerSettings], Runtime],
    ) -> Runtime:
        """The runtime of `model_id`, loaded (and others unloaded) when it is not."""
        entry = self.entries[model_id]
        if entry.runtime is not None and not entry.runtime.engine.alive:
            log.warning(
                "%s: engine stopped (%s), loading again", model_id, entry.runtime.engine.failure
            )
            entry.runtime = None
        if entry.runtime is None:
            async with self.loading:
                if entry.runtime is None:
                    entry.runtime = await self._load(model_id, entry, settings, loader)
        entry.last_used = time.monotonic()
        return entry.runtime

    async def _load(
        self,
        model_id: str,
        entry: Pooled,
        settings: ServerSettings,
        loader: Callable[[ServerSettings], Runtime],
    ) -> Runtime:
        cap = self.cap if self.cap is not None else self.measure_cap(settings)
        if entry.cost > cap:
            raise ApiError(
                503,
                f"model {model_id!r} needs {entry.cost // MIB} MiB, over the "
                f"{cap // MIB} MiB the server may use for models besides the first",
                param="model",
                code="model_too_large",
            )
        self._unload_for(entry, cap)
        before, started = resident_bytes(), time.monotonic()
        own = settings.model_copy(update={"model_dir": entry.path, "more_models": ()})
        try:
            runtime = await load_in_thread(loader, own)
        except Exception as exc:
            log.warning("loading %s failed: %s", entry.path, exc)
            raise ApiError(
                503, f"model {model_id!r} could not load: {exc}", code="model_load_failed"
            ) from None
        log.info(
            "loaded %s on first use in %.1f s: %d MiB counted, resident +%d MiB; %d of %d MiB used",
            model_id,
            time.monotonic() - started,
            entry.cost // MIB,
            max(0, resident_bytes() - before) // MIB,
            (self.used() + entry.cost) // MIB,
            cap // MIB,
        )
        return runtime

    def _unload_for(self, entry: Pooled, cap: int) -> None:
        """Unload the least recently used models until `entry` fits."""
        while self.used() + entry.cost > cap:
            victim = min(
                (e for e in self.entries.values() if e.runtime is not None),
                key=lambda e: e.last_used,
            )
            runtime, victim.runtime = victim.runtime, None
            assert runtime is not None
            log.info("unloading %s (least recently used) to make room", victim.path.name)
            self.drain(runtime)
