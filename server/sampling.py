"""Next-token choice in numpy: greedy, temperature, top-k, top-p, repetition penalty, seed.

Temperature 0 is greedy (argmax). The repetition penalty follows CTRL: logits of tokens
already in the context are divided by the penalty when positive and multiplied when
negative. A request's own `numpy.random.Generator` (seeded per request) makes the same seed
give the same text whatever else the server is doing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

DEFAULT_TEMPERATURE = 0.3  # the product favours accuracy


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1.0: no nucleus cut
    repetition_penalty: float = 1.0  # 1.0: none
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")

    def generator(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


def apply_repetition_penalty(
    logits: NDArray[Any], context: Iterable[int], penalty: float
) -> NDArray[Any]:
    if penalty == 1.0:
        return logits
    ids = np.fromiter(set(context), dtype=np.int64)
    if ids.size == 0:
        return logits
    out = logits.astype(np.float32, copy=True)
    chosen = out[ids]
    out[ids] = np.where(chosen > 0, chosen / penalty, chosen * penalty)
    return out


def next_token(
    logits: NDArray[Any],
    context: Iterable[int],
    params: SamplingParams,
    rng: np.random.Generator,
) -> int:
    """Pick the next token from one row of logits (vocab,)."""
    scores = apply_repetition_penalty(
        np.asarray(logits, dtype=np.float32), context, params.repetition_penalty
    )
    if params.temperature == 0:
        return int(np.argmax(scores))
    scores = scores.astype(np.float64) / params.temperature
    if 0 < params.top_k < scores.size:
        threshold = np.partition(scores, -params.top_k)[-params.top_k]
        scores = np.where(scores < threshold, -np.inf, scores)
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    if params.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, params.top_p)) + 1]
        mask = np.zeros_like(probs, dtype=bool)
        mask[keep] = True
        probs = np.where(mask, probs, 0.0)
        probs /= probs.sum()
    return int(rng.choice(probs.size, p=probs))
