"""Per served version, over time: requests, errors, time to first token and tokens/s.

The studio samples the serving process's /metrics (Prometheus text) every few seconds and
keeps the cumulative counters per model in its database; the page shows the differences
between samples. The serving process itself keeps no history and stays as small as it is.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from persian_chat.studio.store import SampleRow

# sample name in the text format -> our short name
SERIES = {
    "persian_chat_model_requests_total": "requests",
    "persian_chat_time_to_first_token_seconds_sum": "ttft_sum",
    "persian_chat_time_to_first_token_seconds_count": "ttft_count",
    "persian_chat_generated_tokens_total": "tokens",
    "persian_chat_request_duration_seconds_sum": "duration_sum",
}


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """Cumulative per-model values: requests, errors, TTFT sum/count, tokens, duration."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = SERIES.get(sample.name)
            model = sample.labels.get("model")
            if name is None or model is None:
                continue
            if name == "requests" and sample.labels.get("outcome", "ok") != "ok":
                out[model]["errors"] += sample.value
            out[model][name] += sample.value
    return {model: dict(values) for model, values in out.items()}


def scrape(api_url: str, timeout: float = 3.0) -> dict[str, dict[str, float]] | None:
    """The server's per-model counters now; None when it cannot be reached."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/metrics", timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return parse_metrics(response.text)


def rates(samples: Sequence[SampleRow]) -> list[dict[str, Any]]:
    """Per model and interval between consecutive samples: requests, errors, mean TTFT (ms)
    and tokens/s. A counter that went down (the server restarted) starts a new series."""
    by_model: dict[str, list[SampleRow]] = defaultdict(list)
    for sample in samples:
        by_model[sample["model"]].append(sample)
    points = []
    for model, series in by_model.items():
        for before, after in itertools.pairwise(series):
            a, b = before["values"], after["values"]
            delta = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in b}
            seconds = after["time"] - before["time"]
            if seconds <= 0 or any(v < 0 for v in delta.values()):
                continue
            first = delta.get("ttft_count", 0.0)
            points.append(
                {
                    "time": after["time"],
                    "model": model,
                    "requests": int(delta.get("requests", 0)),
                    "errors": int(delta.get("errors", 0)),
                    "ttft_ms": round(1000 * delta.get("ttft_sum", 0.0) / first, 1)
                    if first
                    else None,
                    "tokens_per_s": round(delta.get("tokens", 0.0) / seconds, 2),
                }
            )
    return sorted(points, key=lambda p: p["time"])
