"""The serving benchmark's tables: per turn over the chats, per level of clients, and the
result's comparison with the engine alone."""

from __future__ import annotations

from typing import Any

from persian_chat.benchmarks.common import describe
from persian_chat.benchmarks.serving_load import parse_args, result_of, turn_rows


def test_turn_rows_give_each_turns_prompt_size_and_ttft_over_the_chats() -> None:
    chats = [
        [{"prompt_tokens": 40, "ttft_s": 0.04}, {"prompt_tokens": 90, "ttft_s": 0.05}],
        [{"prompt_tokens": 30, "ttft_s": 0.03}, {"prompt_tokens": 70, "ttft_s": 0.09}],
        [{"prompt_tokens": 50, "ttft_s": 0.05}, {"prompt_tokens": 80, "ttft_s": 0.07}],
    ]
    first, second = turn_rows("on", chats)
    assert (first["turn"], first["prompt_cache"], first["prompt_tokens_p50"]) == (1, "on", 40)
    assert first["ttft_p50_s"] == 0.04 and second["prompt_tokens_p50"] == 80
    assert second["ttft_p50_s"] == 0.07 and second["ttft_p95_s"] == 0.09


def level(clients: int, rate: float) -> dict[str, Any]:
    return {
        "clients": clients,
        "requests": 16 * clients,
        "errors": 0,
        "aggregate_tokens_per_sec": rate,
        "ttft_p50_s": 0.025,
        "ttft_p95_s": 0.05,
        "itl_p50_s": 0.01,
        "itl_p95_s": None,
    }


def test_the_result_compares_one_client_with_the_engine_alone_and_sixteen_clients() -> None:
    args = parse_args(["--model", "models/tiny-onnx-int8", "--levels", "1", "16"])
    measured = {
        "startup_s": 2.4,
        "rss_idle_bytes": 400 * 1024**2,
        "rss_peak_bytes": 800 * 1024**2,
        "levels": [level(1, 100.0), level(16, 300.0)],
        "multi_turn": turn_rows("on", [[{"prompt_tokens": 40, "ttft_s": 0.04}]]),
        "cache_peak_bytes": 900 * 1024**2,
        "engine_alone": {"tokens_per_sec": 125.0},
        "load_before": [0.0, 0.0, 0.0],
        "load_after": [2.0, 1.0, 0.5],
    }
    result = result_of(measured, args)
    assert result["served_share_of_engine"] == 0.8 and result["aggregate_16_vs_1"] == 3.0
    assert result["table"]["rows"][0] == ["1", "16", "0", "100.0", "25", "50", "10", "-"]
    text = describe(result)
    assert "served one client = 80% of it; 16 clients = 3.0x one client." in text
    assert "peak RSS 900 MiB" in text and "| on | 1 | 40 | 40 | 40 |" in text
