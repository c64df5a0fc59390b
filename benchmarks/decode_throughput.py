"""Decode speed side by side, in one process, interleaved: PyTorch eager `generate` (fp32,
KV cache), Optimum's `ORTModelForCausalLM.generate` (fp32 and int8) and our engine (fp32 and
int8) on the same ONNX files; then 8 concurrent streams (our continuous batching vs Optimum's
static batch of 8), time to first token by prompt length, and this machine's memory
bandwidth as the ceiling for batch-1 decoding.

The default model is GPT-2-small-shaped (12 layers, 768 wide, 50,257 tokens) with random
weights: speed does not depend on the weights' values. `--checkpoint models/persian-chat`
measures the fine-tuned Gemma-3-270M instead.

    python benchmarks/decode_throughput.py [--checkpoint DIR] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from persian_chat.benchmarks.common import (
    RESULTS,
    load_average,
    machine_info,
    save_plot,
    write_result,
)

RANDOM_GPT2 = Path("models/bench/gpt2-small-random")
HEADER = ["runner", "min tok/s", "median tok/s", "max tok/s", "vs PyTorch", "vs Optimum int8"]


def build_random_gpt2(directory: Path) -> Path:
    """GPT-2 small's shape with random weights, saved once."""
    if (directory / "config.json").is_file():
        return directory
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config())  # the defaults are GPT-2 small: 124M parameters
    tmp = directory.with_name(directory.name + ".tmp")
    model.save_pretrained(tmp)
    tmp.replace(directory)
    return directory


def export_graphs(checkpoint: Path, work: Path) -> dict[str, Path]:
    """fp32 and int8 (our default quantization) directories that Optimum can load too."""
    from persian_chat.export.onnx_export import default_quantization, export_fp32, quantize_int8

    fp32 = work / "fp32"
    if not (fp32 / "model.onnx").is_file():
        export_fp32(checkpoint, fp32)
    int8 = work / "int8"
    if not (int8 / "model.onnx").is_file():
        quantize_int8(fp32, int8, default_quantization())
    for name in ("config.json", "generation_config.json"):
        if (fp32 / name).is_file():
            shutil.copy(fp32 / name, int8 / name)
    return {"fp32": fp32, "int8": int8}


def bandwidth_gb_s(size_mib: int = 1024, repeats: int = 5) -> float:
    """Copy bandwidth (read + write bytes per second) of a large numpy copy."""
    source = np.ones(size_mib * 1024**2 // 8)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best / 1e9


def weight_bytes_per_token(path: Path) -> int:
    """Bytes of the constants a decoding step reads in full: every initializer except
    embedding tables, of which a Gather reads only one row per token."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    consumers: dict[str, set[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, set()).add(node.op_type)
    total = 0
    for init in graph.initializer:
        if consumers.get(init.name, set()) <= {"Gather"}:
            continue
        total += len(init.raw_data) or onnx.numpy_helper.to_array(init).nbytes
    return total


class Runners:
    """Each runner decodes `new` tokens after the given prompts and returns the seconds."""

    def __init__(self, checkpoint: Path, graphs: dict[str, Path], threads: int) -> None:
        import onnxruntime as ort
        import torch
        from optimum.onnxruntime import ORTModelForCausalLM
        from transformers import AutoModelForCausalLM

        from persian_chat.server.engine import Engine
        from persian_chat.server.onnx_model import load_decoder

        torch.set_num_threads(threads)
        self.torch = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.optimum = {
            precision: ORTModelForCausalLM.from_pretrained(
                path, use_cache=True, session_options=options, provider="CPUExecutionProvider"
            )
            for precision, path in graphs.items()
        }
        context = int(self.torch.config.max_position_embeddings)
        self.engines = {
            precision: Engine(load_decoder(path / "model.onnx", threads), context, max_batch=8)
            for precision, path in graphs.items()
        }
        for engine in self.engines.values():
            engine.start()
        self.eos = self.torch.config.eos_token_id

    def close(self) -> None:
        for engine in self.engines.values():
            engine.shutdown(0)
            engine.join(10)

    def hf_generate(self, model: Any, prompts: list[list[int]], new: int) -> float:
        import torch

        ids = torch.tensor(prompts)
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                min_new_tokens=new, do_sample=False, pad_token_id=self.eos,
            )  # fmt: skip
        assert out.shape[1] == ids.shape[1] + new
        return time.perf_counter() - start

    def engine(self, precision: str, prompts: list[list[int]], new: int) -> tuple[float, float]:
        """(seconds for all streams, mean seconds to first token)."""
        from persian_chat.server.sampling import SamplingParams
        from persian_chat.server.sequence import GenerationRequest

        engine = self.engines[precision]

        async def one(ids: list[int]) -> tuple[int, float]:
            request = GenerationRequest(ids, SamplingParams(temperature=0), new, frozenset())
            sequence = engine.submit(request, asyncio.get_running_loop())
            start, first, count = time.perf_counter(), 0.0, 0
            async for _ in sequence.tokens():
                count += 1
                first = first or time.perf_counter() - start
            return count, first

        async def main() -> tuple[float, float]:
            start = time.perf_counter()
            results = await asyncio.gather(*(one(p) for p in prompts))
            assert all(count == new for count, _ in results)
            return time.perf_counter() - start, statistics.mean(f for _, f in results)

        return asyncio.run(main())


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def plot(rows: list[dict[str, Any]], concurrent: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r["runner"] for r in rows]
    left.barh(names, [r["tokens_per_sec"]["median"] for r in rows], color="#4c72b0")
    left.set_xlabel("tokens/s, batch 1 (median)")
    left.invert_yaxis()
    aggregate = [c["aggregate_tokens_per_sec"]["median"] for c in concurrent]
    right.barh([c["runner"] for c in concurrent], aggregate, color="#dd8452")
    right.set_xlabel("aggregate tokens/s, 8 streams (median)")
    right.invert_yaxis()
    save_plot(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="HF checkpoint (default: a random GPT-2-small)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("models/bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default=None, help="result name (default from the model)")
    args = parser.parse_args(argv)

    checkpoint = args.checkpoint or build_random_gpt2(RANDOM_GPT2)
    label = "gpt2-small-random" if args.checkpoint is None else checkpoint.name
    graphs = export_graphs(checkpoint, args.work / f"{label}-onnx")
    runners = Runners(checkpoint, graphs, args.threads)
    vocab = int(runners.torch.config.vocab_size)
    rng = np.random.default_rng(0)

    def prompt(length: int) -> list[int]:
        return [int(t) for t in rng.integers(10, vocab - 10, length)]

    single = [prompt(args.prompt_tokens)]
    batch = [prompt(args.prompt_tokens) for _ in range(args.streams)]
    n = args.new_tokens
    cases: dict[str, Callable[[], float]] = {
        "PyTorch eager fp32": lambda: runners.hf_generate(runners.torch, single, n),
        "Optimum ORT fp32": lambda: runners.hf_generate(runners.optimum["fp32"], single, n),
        "Optimum ORT int8": lambda: runners.hf_generate(runners.optimum["int8"], single, n),
        "persian-chat engine fp32": lambda: runners.engine("fp32", single, n)[0],
        "persian-chat engine int8": lambda: runners.engine("int8", single, n)[0],
    }
    many: dict[str, Callable[[], float]] = {
        f"Optimum ORT int8, static batch of {args.streams}":
            lambda: runners.hf_generate(runners.optimum["int8"], batch, n),
        f"persian-chat engine int8, {args.streams} concurrent streams":
            lambda: runners.engine("int8", batch, n)[0],
    }  # fmt: skip
    load_before = load_average()
    for run in [*cases.values(), *many.values()]:  # warm-up: sessions, caches, allocators
        run()
    seconds: dict[str, list[float]] = {name: [] for name in [*cases, *many]}
    for repeat in range(args.repeats):
        print(f"repeat {repeat + 1}/{args.repeats}", flush=True)
        for name, run in [*cases.items(), *many.items()]:
            seconds[name].append(run())
    ttft = {}
    for length in (16, 64, 256):
        firsts = [runners.engine("int8", [prompt(length)], 1)[1] for _ in range(args.repeats)]
        ttft[str(length)] = summary(firsts)
    load_after = load_average()
    runners.close()

    rows: list[dict[str, Any]] = [{"runner": name, "seconds": summary(s),
             "tokens_per_sec": summary([n / x for x in s])} for name, s in seconds.items()
            if name in cases]  # fmt: skip
    concurrent: list[dict[str, Any]] = [{"runner": name, "seconds": summary(s),
                   "aggregate_tokens_per_sec": summary([args.streams * n / x for x in s])}
                  for name, s in seconds.items() if name in many]  # fmt: skip
    median = {r["runner"]: r["tokens_per_sec"]["median"] for r in rows}
    torch_rate, optimum_int8 = median["PyTorch eager fp32"], median["Optimum ORT int8"]
    int8_bytes = weight_bytes_per_token(graphs["int8"] / "model.onnx")
    bandwidth = bandwidth_gb_s()
    ours = median["persian-chat engine int8"]
    table_rows = [
        [r["runner"], f"{r['tokens_per_sec']['min']:.1f}", f"{r['tokens_per_sec']['median']:.1f}",
         f"{r['tokens_per_sec']['max']:.1f}", f"{r['tokens_per_sec']['median'] / torch_rate:.2f}x",
         f"{r['tokens_per_sec']['median'] / optimum_int8:.2f}x"] for r in rows
    ] + [
        [c["runner"], f"{c['aggregate_tokens_per_sec']['min']:.1f}",
         f"{c['aggregate_tokens_per_sec']['median']:.1f}",
         f"{c['aggregate_tokens_per_sec']['max']:.1f}",
         f"{c['aggregate_tokens_per_sec']['median'] / torch_rate:.2f}x",
         f"{c['aggregate_tokens_per_sec']['median'] / optimum_int8:.2f}x"] for c in concurrent
    ]  # fmt: skip
    name = args.name or f"decode_{label}"
    plot(rows, concurrent, RESULTS / f"{name}.png")
    result = {
        "title": f"Decode throughput ({label})",
        "description": (
            f"{'Random-weight GPT-2-small shape' if args.checkpoint is None else label}, "
            f"prompt {args.prompt_tokens} tokens, {n} new tokens (greedy, EOS ignored), "
            f"{args.threads} threads, {args.repeats} interleaved repeats after a warm-up; "
            f"tokens/s = new tokens / wall time including prefill. Ratios use medians. "
            f"Time to first token (our int8 engine, median): "
            + ", ".join(f"{k} tokens {v['median'] * 1000:.0f} ms" for k, v in ttft.items())
            + f". Memory bandwidth (numpy copy) {bandwidth:.1f} GB/s; the int8 graph reads "
            f"{int8_bytes / 1024**2:.0f} MiB of weights per step (embedding tables excluded: "
            f"one row per token) => ceiling "
            f"{bandwidth * 1e9 / int8_bytes:.0f} tokens/s; our int8 batch 1 reaches "
            f"{ours * int8_bytes / (bandwidth * 1e9):.0%} of it."
        ),
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "load_before": load_before,
        "load_after": load_after,
        "batch1": rows,
        "concurrent": concurrent,
        "time_to_first_token_s": ttft,
        "bandwidth": {
            "copy_gb_per_s": bandwidth,
            "int8_weight_bytes": int8_bytes,
            "ceiling_tokens_per_sec": bandwidth * 1e9 / int8_bytes,
            "fraction_of_ceiling": ours * int8_bytes / (bandwidth * 1e9),
        },
        "table": {
            "header": HEADER,
            "rows": table_rows,
        },
        "plot": f"{name}.png",
    }
    print(f"wrote {write_result(name, result)}")
    for row in table_rows:
        print("  ".join(row))


if __name__ == "__main__":
    main()
