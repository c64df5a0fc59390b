"""The monitoring page's numbers: per-model counters read from the server's /metrics text,
and rates between samples."""

from __future__ import annotations

from persian_chat.server.http.metrics import Metrics
from persian_chat.studio.monitoring import parse_metrics, rates


def test_parse_the_servers_own_metrics_per_model() -> None:
    metrics = Metrics()
    for model, ttft, tokens, outcome in (
        ("v1", 0.02, 10, "ok"),
        ("v1", 0.04, 20, "ok"),
        ("v2", 0.03, 5, "error"),
    ):
        metrics.time_to_first_token.labels(model).observe(ttft)
        metrics.generated_tokens.labels(model).inc(tokens)
        metrics.model_requests.labels(model, outcome).inc()
    values = parse_metrics(metrics.render().decode())
    assert values["v1"]["requests"] == 2 and values["v1"].get("errors", 0) == 0
    assert values["v1"]["tokens"] == 30 and values["v1"]["ttft_count"] == 2
    assert abs(values["v1"]["ttft_sum"] - 0.06) < 1e-9
    assert values["v2"]["errors"] == 1 and values["v2"]["requests"] == 1


def test_rates_between_samples_and_a_restart() -> None:
    def sample(t: float, requests: float, tokens: float, ttft_sum: float) -> dict[str, object]:
        values = {
            "requests": requests,
            "tokens": tokens,
            "ttft_sum": ttft_sum,
            "ttft_count": requests,
        }
        return {"time": t, "model": "v1", "values": values}

    points = rates([sample(0, 0, 0, 0), sample(10, 4, 200, 0.2), sample(20, 1, 10, 0.01)])
    assert len(points) == 1  # the counters went down: the server restarted, no rate
    point = points[0]
    assert point["requests"] == 4 and point["tokens_per_s"] == 20.0 and point["ttft_ms"] == 50.0
