"""The batch size, measured at start-up on this machine.

More rows per decode step add throughput only while the int8 matrix products stay bound by
memory bandwidth; once they are bound by compute (on 2 cores between 8 and 16 rows for the
served Gemma-3) more rows only make every answer slower. So `serve` times a few decode
steps at 1, 2, 4, 8 and 16 rows and takes the fewest rows that reach 95% of the best
aggregate rate, capped by the memory their KV caches may need at the full context (half the
memory available to the process, the cgroup limit included).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from persian_chat.server.kv.batch import Batch
from persian_chat.server.kv.onnx_model import Decoder
from persian_chat.server.kv.slot_cache import GqaDecoder, SlotBatch

log = logging.getLogger("persian_chat.server")

SIZES = (1, 2, 4, 8, 16)
ENOUGH = 0.95  # of the best aggregate rate
DEFAULT = 8  # for graphs the measurement does not apply to (Optimum's)


def available_memory(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Bytes this process may still use: the machine's available memory, or less under a
    cgroup (v2 memory.max) limit."""
    import psutil

    free = int(psutil.virtual_memory().available)
    try:
        limit, used = (cgroup / "memory.max").read_text().strip(), (cgroup / "memory.current")
        if limit != "max":
            free = min(free, int(limit) - int(used.read_text()))
    except (OSError, ValueError):
        pass
    return max(free, 0)


def slot_bytes(decoder: GqaDecoder, context_length: int) -> int:
    """KV bytes one row may need: every key and value buffer, full-length ones to the
    context, windowed ones to their window-sized capacity (slot_cache.py)."""
    per_position = decoder.kv_heads * decoder.head_dim * 4  # fp32
    return sum(
        per_position * decoder.positions(index, context_length)
        for index in range(len(decoder.windows))
    )


def seconds_per_step(batch: Batch, steps: int) -> float:
    """Seconds per decode step of every row of `batch`, after one warm-up step at this shape."""
    tokens = [7] * batch.size
    batch.step(tokens)
    start = time.perf_counter()
    for _ in range(steps):
        batch.step(tokens)
    return (time.perf_counter() - start) / steps


def rates_by_rows(
    decoder: GqaDecoder, prefix: list[int], sizes: tuple[int, ...] = SIZES, steps: int = 6
) -> dict[int, float]:
    """Aggregate decode tokens/s at each number of rows (short rows after the prefix)."""
    batch = SlotBatch(decoder, prefix)
    rates: dict[int, float] = {}
    for size in sizes:
        while batch.size < size:
            batch.prefill([*prefix, 3, 4, 5, 6 + batch.size])
        rates[size] = size / seconds_per_step(batch, steps)
    return rates


def tune_max_batch(
    decoder: Decoder, prefix: list[int] | None, context_length: int, memory: int | None = None
) -> tuple[int, dict[int, float]]:
    """The batch size for this machine, and the rates it was chosen from."""
    if not isinstance(decoder, GqaDecoder):
        return DEFAULT, {}
    memory = available_memory() if memory is None else memory
    fits = max(1, memory // 2 // slot_bytes(decoder, context_length))
    rates = rates_by_rows(decoder, prefix or [2], tuple(s for s in SIZES if s <= fits) or (1,))
    best = max(rates.values())
    chosen = min(size for size, rate in rates.items() if rate >= ENOUGH * best)
    log.info(
        "max batch %d, measured: %s tok/s by rows; memory allows %d rows",
        chosen,
        ", ".join(f"{size}: {rate:.0f}" for size, rate in rates.items()),
        fits,
    )
    return chosen, rates
