"""onnxruntime session options for decoding, measured side by side on one int8 graph:
intra-op threads (1, physical cores, logical cores), thread spinning on/off and graph
optimization level. The server's defaults (server/kv/onnx_model.py) come from this table.

    python benchmarks/session_options.py [--graph models/bench/gpt2-small-random-onnx/int8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from persian_chat.benchmarks.common import load_average, machine_info, publish


def decode_rate(session_path: Path, threads: int, spinning: bool, level: str, new: int) -> float:
    import onnxruntime as ort

    from persian_chat.server.kv import onnx_model

    options = onnx_model.session_options(threads, spinning)
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    decoder = onnx_model.load_decoder(session_path, threads, options)
    prompt = [int(t) for t in np.random.default_rng(0).integers(10, 1000, 32)]
    decoder.greedy(prompt, 8, set())  # warm-up
    start = time.perf_counter()
    decoder.greedy(prompt, new, set())
    return new / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--graph", type=Path, default=Path("models/bench/gpt2-small-random-onnx/int8")
    )
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import psutil

    physical = psutil.cpu_count(logical=False) or 1
    logical = os.cpu_count() or physical
    configs = sorted(
        {
            (1, True, "ORT_ENABLE_ALL"),
            (physical, True, "ORT_ENABLE_ALL"),
            (logical, True, "ORT_ENABLE_ALL"),
            (physical, False, "ORT_ENABLE_ALL"),
            (physical, True, "ORT_ENABLE_EXTENDED"),
            (physical, True, "ORT_ENABLE_BASIC"),
        }
    )
    rates: dict[tuple[int, bool, str], list[float]] = {c: [] for c in configs}
    load_before = load_average()
    for _ in range(args.repeats):  # interleaved
        for config in configs:
            rates[config].append(decode_rate(args.graph / "model.onnx", *config, args.new_tokens))
    rows = [
        [
            str(t),
            "on" if s else "off",
            level,
            f"{statistics.median(r):.1f}",
            f"{min(r):.1f}",
            f"{max(r):.1f}",
        ]
        for (t, s, level), r in rates.items()
    ]
    result = {
        "title": f"onnxruntime session options ({args.graph})",
        "description": (
            f"Greedy decoding of {args.new_tokens} tokens after a 32-token prompt at batch 1, "
            f"{args.repeats} interleaved repeats; {physical} physical / {logical} logical cores."
        ),
        "machine": machine_info(),
        "load_before": load_before,
        "load_after": load_average(),
        "table": {
            "header": [
                "intra-op threads",
                "spinning",
                "optimization",
                "median tok/s",
                "min",
                "max",
            ],
            "rows": rows,
        },
    }
    publish("session_options", result)


if __name__ == "__main__":
    main()
