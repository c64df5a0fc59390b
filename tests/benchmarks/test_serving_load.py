"""The serving benchmark's multi-turn table: per turn, over the chats."""

from __future__ import annotations

from persian_chat.benchmarks.serving_load import turn_rows


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
