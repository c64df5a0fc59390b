"""The decode benchmark's result from its measurements: rows, ratios, ceiling, prose."""

from __future__ import annotations

from typing import Any

from persian_chat.benchmarks.common import describe
from persian_chat.benchmarks.decode_throughput import parse_args, result_of

MIB = 1024**2


def measured() -> dict[str, Any]:
    """Three repeats of 64 new tokens: PyTorch at 2 s, Optimum int8 at 1 s, ours at 0.5 s."""
    return {
        "label": "tiny",
        "single": [
            "PyTorch eager fp32",
            "Optimum ORT fp32",
            "Optimum ORT int8",
            "persian-chat engine fp32",
            "persian-chat engine int8",
        ],
        "many": ["persian-chat engine int8, 8 concurrent streams"],
        "seconds": {
            "PyTorch eager fp32": [2.0, 2.0, 2.2],
            "Optimum ORT fp32": [1.6, 1.6, 1.6],
            "Optimum ORT int8": [1.0, 0.9, 1.1],
            "persian-chat engine fp32": [0.8, 0.8, 0.8],
            "persian-chat engine int8": [0.5, 0.5, 0.4],
            "persian-chat engine int8, 8 concurrent streams": [1.0, 1.0, 1.0],
        },
        "ttft": {"16": {"min": 0.01, "median": 0.02, "max": 0.03}},
        "auto": {"chosen": "int8", "step_ms": {"int8": 5.0, "int4": 6.0}},
        "engines": None,
        "int8_bytes": 100 * MIB,
        "bandwidth": 26.0,
        "load_before": [0.1, 0.1, 0.1],
        "load_after": [1.9, 1.5, 1.2],
    }


def test_rows_give_tokens_per_second_and_ratios_to_pytorch_and_optimum_int8() -> None:
    args = parse_args(["--no-anchors"])
    result = result_of(measured(), args, "decode_tiny")
    by_runner = {row[0]: row for row in result["table"]["rows"]}
    ours = by_runner["persian-chat engine int8"]
    assert ours[1:4] == ["128.0", "128.0", "160.0"]  # 64 tokens in 0.5, 0.5, 0.4 s
    assert ours[4:] == ["4.00x", "2.00x"]  # medians: 128 vs PyTorch 32 and Optimum int8 64
    streams = by_runner["persian-chat engine int8, 8 concurrent streams"]
    assert streams[2] == "512.0"  # 8 streams x 64 tokens in 1 s
    assert result["bandwidth"]["ceiling_tokens_per_sec"] == 26e9 / (100 * MIB)
    assert result["plot"] == "decode_tiny.png" and result["tables"] == []


def test_the_text_says_what_auto_picked_and_the_share_of_the_ceiling() -> None:
    args = parse_args(["--no-anchors", "--repeats", "3"])
    text = describe(result_of(measured(), args, "decode_tiny"))
    assert "`serve --weights auto` picks int8 on this machine" in text
    assert "int8 5.00 ms per decode step, int4 6.00 ms per decode step" in text
    # 128 tok/s x 100 MiB = 13.4 GB/s of 26 GB/s
    assert "our int8 batch 1 reaches 52% of it end to end." in text
    assert "| persian-chat engine int8 | 128.0 | 128.0 | 160.0 | 4.00x | 2.00x |" in text
