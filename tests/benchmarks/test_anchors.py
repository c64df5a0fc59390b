"""The engine comparison's arithmetic and plumbing (the engines themselves run in the
benchmark, with the machine to itself)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from persian_chat.benchmarks import anchors
from persian_chat.benchmarks.anchors import Timing, _timed
from persian_chat.benchmarks.decode_throughput import (
    EngineRunner,
    chat_prompt,
    engine_ratios,
    engine_tables,
)


def test_decode_rate_counts_only_the_tokens_after_the_first() -> None:
    timing = Timing(first_token_s=0.5, total_s=1.5, tokens=11)
    assert timing.decode_tokens_per_sec == pytest.approx(10.0)
    timed = _timed(iter(range(100)), new=7)
    assert timed.tokens == 7 and timed.total_s >= timed.first_token_s > 0


def test_missing_anchors_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    assert "llama_cpp" in (anchors.missing() or "") and "[anchors]" in (anchors.missing() or "")


def row(engine: str, threads: int, decode: float, first_ms: float) -> dict[str, Any]:
    return {
        "engine": engine,
        "threads": threads,
        "file_mb": 100.0,
        "decode_tokens_per_sec": {"median": decode},
        "first_token_ms": {"median": first_ms},
        "end_to_end_tokens_per_sec": {"median": decode / 2},
    }


def test_ratios_and_tables_compare_ours_with_each_anchor() -> None:
    engines = {
        "prompt_tokens": 31,
        "rows": [
            row("persian-chat int8", 2, 150.0, 40.0),
            row("llama.cpp Q8_0", 2, 100.0, 80.0),
            row("persian-chat int8", 1, 80.0, 70.0),
            row("llama.cpp Q8_0", 1, 40.0, 100.0),
        ],
        "context_sweep": {
            "64": {"persian-chat int8": {"median": 150.0}},
            "1024": {"persian-chat int8": {"median": 120.0}},
        },
    }
    ratios = engine_ratios(engines, 2)
    assert ratios["decode vs llama.cpp Q8_0"] == pytest.approx(1.5)
    assert ratios["TTFT vs llama.cpp Q8_0"] == pytest.approx(0.5)
    assert ratios["decode at 1024 vs 64 tokens of context"] == pytest.approx(0.8)
    assert engine_ratios(engines, 1)["decode vs llama.cpp Q8_0"] == pytest.approx(2.0)
    comparison, sweep = engine_tables(engines, [64, 1024])
    assert comparison["rows"][0][-1] == "1.50x" and comparison["rows"][2][-1] == "2.00x"
    assert sweep["rows"] == [["persian-chat int8", "150.0", "120.0"]]


def test_our_runner_decodes_the_chat_prompt_greedily(
    gemma_checkpoint: Path, tiny_gemma_served_dir: Path
) -> None:
    prompt = chat_prompt(gemma_checkpoint)
    assert prompt is not None and prompt[0] == 2  # bos, then the templated question
    runner = EngineRunner("persian-chat int8", tiny_gemma_served_dir, threads=1, context=256)
    try:
        first, second = runner.run(prompt, 12), runner.run(prompt, 12)
    finally:
        runner.close()
    assert first.tokens == second.tokens == 12 and first.decode_tokens_per_sec > 0
