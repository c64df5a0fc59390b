"""Which weight format to serve, measured at start-up on this machine.

A served directory may carry the same model in more than one weight format (int8 and int4
MatMulNBits). Which decodes faster depends on the CPU's kernels, not on its flags: on an
AVX-512 VNNI Xeon the int8 graph runs at 89% of the bandwidth ceiling and beats int4; on an
AVX2-only EPYC onnxruntime's 4-bit path decoded 1.7x faster than our int8. So `serve`
times a few decode steps of each (batch 1, the way a chat answer decodes), interleaved so
that a noisy neighbour slows all formats alike, and serves the fastest — but a format less
accurate than the first (the manifest lists int8 first) must be at least MARGIN faster: on
this Xeon the two decode within 1-2% of each other, and a tie is not worth +3% perplexity.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping

from persian_chat.server.engine.batch_tuning import seconds_per_step
from persian_chat.server.engine.core import new_batch
from persian_chat.server.kv.onnx_model import Decoder

log = logging.getLogger("persian_chat.server")

ROUNDS = 3  # interleaved rounds over the formats
STEPS = 8  # decode steps timed per round
MARGIN = 0.05  # how much faster a less accurate format must be than the first


def step_seconds(decoder: Decoder, prefix: list[int], steps: int = STEPS) -> float:
    """Seconds per decode step of one short row after `prefix`."""
    batch = new_batch(decoder, prefix or None)
    batch.prefill([*(prefix or [2]), 3, 4, 5, 6])
    return seconds_per_step(batch, steps)


def choose_weights(
    decoders: Mapping[str, Decoder], prefix: list[int], rounds: int = ROUNDS, steps: int = STEPS
) -> tuple[str, dict[str, float]]:
    """The format to serve (`decoders` in order of accuracy, most accurate first: the
    fastest, if it beats the first by MARGIN), and each one's median seconds per step."""
    if len(decoders) == 1:
        return next(iter(decoders)), {}
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(rounds):
        for name, decoder in decoders.items():
            times[name].append(step_seconds(decoder, prefix, steps))
    medians = {name: statistics.median(values) for name, values in times.items()}
    first = next(iter(medians))
    fastest = min(medians, key=lambda name: medians[name])
    clearly = medians[fastest] <= (1 - MARGIN) * medians[first]
    chosen = fastest if clearly else first
    log.info(
        "weights %s: %s (%s per step, median of %d rounds of %d steps)",
        chosen,
        "the fastest decode here"
        if chosen == fastest
        else f"the most accurate; none is {MARGIN:.0%} faster here",
        ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in medians.items()),
        rounds,
        steps,
    )
    return chosen, medians
