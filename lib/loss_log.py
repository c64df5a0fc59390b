"""Reading training loss logs (`logs/train*.log`, one JSON line per logged step): the trend
of one run, and how two runs compare step by step.

Runs with the same seed and data see the same batches in the same order, so the difference
of their losses at the same step is the recipe's effect, not the batches' noise. Light on
purpose (no torch, no transformers): `report` reads the logs too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def smoothed_loss(records: list[dict[str, Any]], share: float = 0.1) -> dict[str, float] | None:
    """Mean logged loss over the first and the last `share` of the logged steps (at least
    3 each), and their ratio: one batch's loss is noise, a tenth of the run is a trend."""
    losses = [float(r["loss"]) for r in records if "loss" in r]
    window = max(3, int(len(losses) * share))
    if len(losses) < 2 * window:
        return None
    start = sum(losses[:window]) / window
    end = sum(losses[-window:]) / window
    return {
        "start": round(start, 4),
        "end": round(end, 4),
        "ratio": round(end / start, 4),
        "window": window,
    }


def paired_difference(
    records: list[dict[str, Any]], reference: list[dict[str, Any]], last: int | None = None
) -> tuple[float, int] | None:
    """(mean of loss − reference loss over the steps both logged, number of those steps);
    `last`: only the last that many common steps. None when they share no step."""
    theirs = {r["step"]: float(r["loss"]) for r in reference if "loss" in r and "step" in r}
    common = [
        (r["step"], float(r["loss"])) for r in records if "loss" in r and r.get("step") in theirs
    ]
    if last is not None:
        common = common[-last:]
    if not common:
        return None
    return sum(loss - theirs[step] for step, loss in common) / len(common), len(common)
