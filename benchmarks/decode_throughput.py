"""Decode speed side by side, in one process, interleaved: PyTorch eager `generate` (fp32,
KV cache), Optimum's `ORTModelForCausalLM.generate` (fp32 and int8) and our engine (fp32 and
int8, the graph `persian-chat export` serves; for Gemma-3 also Optimum's graph, the engine
before the GroupQueryAttention graph); then 8 concurrent streams (our continuous batching vs
Optimum's static batch of 8), time to first token by prompt length, and this machine's memory
bandwidth as the ceiling for batch-1 decoding.

With the `anchors` extra installed, the engines a VPS user would pick instead run on the same
checkpoint and the same prompt ids (benchmarks/anchors.py): llama.cpp Q8_0 and Q4_K_M and
onnxruntime-genai int8 and int4, against our int8 engine at 1 and 2 threads, and a context
sweep: decode tokens/s after 64, 512 and 1,024 tokens of context.

The default model is GPT-2-small-shaped (12 layers, 768 wide, 50,257 tokens) with random
weights: speed does not depend on the weights' values. `--checkpoint models/persian-chat`
measures the fine-tuned Gemma-3-270M instead.

    python benchmarks/decode_throughput.py [--checkpoint DIR] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from persian_chat.benchmarks.anchors import (
    Runner,
    Timing,
    anchor_runners,
    file_megabytes,
    missing,
)
from persian_chat.benchmarks.common import (
    RESULTS,
    load_average,
    machine_info,
    publish,
    save_plot,
)
from persian_chat.export.onnx_export import INT4_BLOCK, INT4_NODES

if TYPE_CHECKING:
    from persian_chat.server.engine.core import Engine

RANDOM_GPT2 = Path("models/bench/gpt2-small-random")
BEFORE = "persian-chat int8, before (Optimum graph, blocks of 32)"
BEFORE_BLOCK_SIZE = 32  # the int8 block size served before the GQA graph
WEIGHTS = ("int8", "int4")  # the formats `serve --weights auto` chooses between
CONTEXT_LIMIT = 4096  # positions of the GroupQueryAttention graph, as `persian-chat export`
ENGINE_HEADER = [
    "engine",
    "threads",
    "file MB",
    "decode tok/s (median)",
    "TTFT ms (median)",
    "end-to-end tok/s",
    "decode vs llama.cpp Q8_0",
]
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
    """Optimum's fp32 and int8 graphs (which Optimum's runner loads too) as "optimum-fp32"
    and "optimum-int8", and the graphs `persian-chat export` serves as "fp32" and "int8":
    the GroupQueryAttention graph where the model allows it, else Optimum's."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from persian_chat.export.gqa_graph import build_gqa_graph, gqa_supported
    from persian_chat.export.onnx_export import (
        INT4_BLOCK,
        INT4_NODES,
        default_quantization,
        export_fp32,
        int4_choice,
        quantize_int8,
    )

    choice = default_quantization()
    gqa = gqa_supported(AutoConfig.from_pretrained(checkpoint, local_files_only=True))
    # with the GQA graph, Optimum's int8 is the engine's "before": blocks of 32 then
    optimum_choice = replace(choice, block_size=BEFORE_BLOCK_SIZE) if gqa else choice
    fp32 = work / "fp32"
    if not (fp32 / "model.onnx").is_file():
        export_fp32(checkpoint, fp32)
    int8 = work / f"int8-b{optimum_choice.block_size}"
    if not (int8 / "model.onnx").is_file():
        quantize_int8(fp32, int8, optimum_choice)
    for name in ("config.json", "generation_config.json"):
        if (fp32 / name).is_file():
            shutil.copy(fp32 / name, int8 / name)
    graphs = {"optimum-fp32": fp32, "optimum-int8": int8, "fp32": fp32, "int8": int8}
    if gqa:
        gqa_fp32, gqa_int8 = work / "gqa-fp32", work / f"gqa-int8-b{choice.block_size}"
        if not (gqa_fp32 / "model.onnx").is_file():
            model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
            build_gqa_graph(model.eval(), gqa_fp32, CONTEXT_LIMIT)
        if not (gqa_int8 / "model.onnx").is_file():
            quantize_int8(gqa_fp32, gqa_int8, choice)
        graphs.update({"fp32": gqa_fp32, "int8": gqa_int8})
        # the layout `export --int4` serves (names of the GQA graph's nodes, its blocks);
        # rounded to nearest: GPTQ picks other levels in the same MatMulNBits format, and
        # speed does not depend on the levels
        int4 = work / f"gqa-int4-{'-'.join(INT4_NODES)}-b{INT4_BLOCK}"
        if not (int4 / "model.onnx").is_file():
            quantize_int8(gqa_fp32, int4, int4_choice(choice, algorithm="rtn"))
        graphs["int4"] = int4
    return graphs


def weights_choice(graphs: dict[str, Path], threads: int) -> dict[str, Any]:
    """What `serve --weights auto` picks between the int8 and int4 graphs on this machine
    (the same function, timed the same way), with each one's milliseconds per step."""
    from persian_chat.server.engine.weights_choice import choose_weights
    from persian_chat.server.kv.onnx_model import load_decoder

    names = [name for name in WEIGHTS if name in graphs]  # int4: GQA graphs only
    decoders = {name: load_decoder(graphs[name] / "model.onnx", threads) for name in names}
    chosen, medians = choose_weights(decoders, [])
    return {"chosen": chosen, "step_ms": {k: round(v * 1000, 3) for k, v in medians.items()}}


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

        from persian_chat.server.engine.core import Engine
        from persian_chat.server.kv.onnx_model import load_decoder

        torch.set_num_threads(threads)
        self.torch = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.optimum = {
            precision: ORTModelForCausalLM.from_pretrained(
                graphs[f"optimum-{precision}"],
                use_cache=True,
                session_options=options,
                provider="CPUExecutionProvider",
            )
            for precision in ("fp32", "int8")
        }
        context = min(int(self.torch.config.max_position_embeddings), CONTEXT_LIMIT)
        served = ["fp32", "int8"] + (
            ["optimum-int8"] if graphs["int8"] != graphs["optimum-int8"] else []
        )
        self.engines = {
            name: Engine(load_decoder(graphs[name] / "model.onnx", threads), context, max_batch=8)
            for name in served
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
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=self.eos,
            )
        assert out.shape[1] == ids.shape[1] + new
        return time.perf_counter() - start

    def engine(self, precision: str, prompts: list[list[int]], new: int) -> tuple[float, float]:
        """(seconds for all streams, mean seconds to first token)."""
        engine = self.engines[precision]

        async def main() -> tuple[float, float]:
            start = time.perf_counter()
            timings = await asyncio.gather(*(timed_request(engine, p, new) for p in prompts))
            assert all(t.tokens == new for t in timings)
            return time.perf_counter() - start, statistics.mean(t.first_token_s for t in timings)

        return asyncio.run(main())


async def timed_request(engine: Engine, prompt: list[int], new: int) -> Timing:
    """One greedy request through our engine, its tokens timed as they arrive."""
    from persian_chat.server.engine.generation import GenerationRequest
    from persian_chat.server.engine.sampling import SamplingParams

    request = GenerationRequest(prompt, SamplingParams(temperature=0), new, frozenset())
    start = time.perf_counter()
    sequence = engine.submit(request, asyncio.get_running_loop())
    first, count = 0.0, 0
    async for _ in sequence.tokens():
        count += 1
        first = first or time.perf_counter() - start
    return Timing(first, time.perf_counter() - start, count)


class EngineRunner:
    """Our engine as the anchors are driven: one greedy request, tokens timed as they come."""

    def __init__(self, name: str, path: Path, threads: int, context: int) -> None:
        from persian_chat.server.engine.core import Engine
        from persian_chat.server.kv.onnx_model import load_decoder

        self.name, self.threads, self.path = name, threads, path / "model.onnx"
        self.engine = Engine(load_decoder(self.path, threads), context, max_batch=8)
        self.engine.start()

    def run(self, prompt: list[int], new: int) -> Timing:
        return asyncio.run(timed_request(self.engine, prompt, new))

    def close(self) -> None:
        self.engine.shutdown(0)
        self.engine.join(10)


def chat_prompt(checkpoint: Path) -> list[int] | None:
    """The prompt ids every engine gets: a Persian question in the model's chat template."""
    from tokenizers import Tokenizer

    from persian_chat import chat_template

    config_path = checkpoint / "tokenizer_config.json"
    template = checkpoint / "chat_template.jinja"
    if not template.is_file() or not config_path.is_file():
        return None
    bos = json.loads(config_path.read_text(encoding="utf-8")).get("bos_token")
    question = "پایتخت ایران کجاست و در آن چه جاهای دیدنی‌ای هست؟ لطفاً کوتاه بگو."
    return chat_template.prompt_ids(
        Tokenizer.from_file(str(checkpoint / "tokenizer.json")),
        [{"role": "user", "content": question}],
        bos if isinstance(bos, str) else "",
        template.read_text(encoding="utf-8"),
    )


def compare_engines(
    checkpoint: Path,
    graphs: dict[str, Path],
    args: argparse.Namespace,
    prompt: list[int],
    vocab: int,
) -> dict[str, Any]:
    """Our int8 engine against llama.cpp and onnxruntime-genai: batch 1 at each thread count,
    then decode speed by context length, every runner interleaved in each repeat."""
    context = CONTEXT_LIMIT
    by_threads: dict[int, list[Runner]] = {}
    for threads in args.anchor_threads:
        ours: list[Runner] = [EngineRunner("persian-chat int8", graphs["int8"], threads, context)]
        if graphs["int8"] != graphs["optimum-int8"]:
            ours.append(EngineRunner(BEFORE, graphs["optimum-int8"], threads, context))
        by_threads[threads] = ours + anchor_runners(
            checkpoint, args.work / "anchors", threads, context
        )
    runners = [r for group in by_threads.values() for r in group]
    for runner in runners:  # warm-up
        runner.run(prompt, 8)
    timings: dict[int, list[Timing]] = {id(r): [] for r in runners}
    for repeat in range(args.repeats):
        print(f"engines, repeat {repeat + 1}/{args.repeats}", flush=True)
        for runner in runners:
            timings[id(runner)].append(runner.run(prompt, args.new_tokens))
    rng = np.random.default_rng(1)
    sweep_runners = by_threads.get(args.threads, runners)
    sweep: dict[int, dict[str, list[float]]] = {}
    for length in args.contexts:
        ids = [int(t) for t in rng.integers(10, vocab - 10, length)]
        sweep[length] = {r.name: [] for r in sweep_runners}
        for repeat in range(max(2, args.repeats // 2)):
            print(f"context {length}, repeat {repeat + 1}", flush=True)
            for runner in sweep_runners:
                sweep[length][runner.name].append(runner.run(ids, 32).decode_tokens_per_sec)
    rows = []
    for runner in runners:
        runs = timings[id(runner)]
        rows.append(
            {
                "engine": runner.name,
                "threads": runner.threads,
                "file_mb": file_megabytes(Path(runner.path)),
                "decode_tokens_per_sec": summary([t.decode_tokens_per_sec for t in runs]),
                "first_token_ms": summary([t.first_token_s * 1000 for t in runs]),
                "end_to_end_tokens_per_sec": summary([t.tokens / t.total_s for t in runs]),
            }
        )
    for runner in runners:
        if isinstance(runner, EngineRunner):
            runner.close()
    return {
        "prompt_tokens": len(prompt),
        "rows": rows,
        "context_sweep": {
            str(length): {name: summary(v) for name, v in rates.items()}
            for length, rates in sweep.items()
        },
    }


def engine_ratios(engines: dict[str, Any], threads: int) -> dict[str, float]:
    """The issue's ratios at `threads`: ours against each anchor (decode, TTFT), and decode at
    the longest context against the shortest."""
    rows = {r["engine"]: r for r in engines["rows"] if r["threads"] == threads}
    ours = rows["persian-chat int8"]
    ratios = {}
    for name, row in rows.items():
        if name != "persian-chat int8":
            ratios[f"decode vs {name}"] = (
                ours["decode_tokens_per_sec"]["median"] / row["decode_tokens_per_sec"]["median"]
            )
            ratios[f"TTFT vs {name}"] = (
                ours["first_token_ms"]["median"] / row["first_token_ms"]["median"]
            )
    sweep = engines["context_sweep"]
    if sweep:
        lengths = sorted(sweep, key=int)
        ratios[f"decode at {lengths[-1]} vs {lengths[0]} tokens of context"] = (
            sweep[lengths[-1]]["persian-chat int8"]["median"]
            / sweep[lengths[0]]["persian-chat int8"]["median"]
        )
    return ratios


def engine_tables(engines: dict[str, Any], contexts: list[int]) -> list[dict[str, Any]]:
    """The comparison and the context sweep as report tables."""
    q8 = {
        r["threads"]: r["decode_tokens_per_sec"]["median"]
        for r in engines["rows"]
        if r["engine"] == "llama.cpp Q8_0"
    }
    rows = [
        [
            r["engine"],
            str(r["threads"]),
            f"{r['file_mb']:.1f}",
            f"{r['decode_tokens_per_sec']['median']:.1f}",
            f"{r['first_token_ms']['median']:.0f}",
            f"{r['end_to_end_tokens_per_sec']['median']:.1f}",
            f"{r['decode_tokens_per_sec']['median'] / q8[r['threads']]:.2f}x"
            if r["threads"] in q8
            else "",
        ]
        for r in engines["rows"]
    ]
    sweep = engines["context_sweep"]
    names = list(next(iter(sweep.values()))) if sweep else []
    sweep_rows = [
        [name, *(f"{sweep[str(c)][name]['median']:.1f}" for c in contexts)] for name in names
    ]
    return [
        {
            "title": f"Against llama.cpp and onnxruntime-genai: the same {engines['prompt_tokens']}"
            "-token chat prompt ids, greedy, interleaved",
            "header": ENGINE_HEADER,
            "rows": rows,
        },
        {
            "title": "Decode tokens/s (32 tokens, after the first) by tokens of context",
            "header": ["engine", *(str(c) for c in contexts)],
            "rows": sweep_rows,
        },
    ]


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="HF checkpoint (default: a random GPT-2-small)",
    )
    parser.add_argument("--work", type=Path, default=Path("models/bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default=None, help="result name (default from the model)")
    parser.add_argument(
        "--anchor-threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts of the llama.cpp / onnxruntime-genai comparison",
    )
    parser.add_argument(
        "--contexts",
        type=int,
        nargs="+",
        default=[64, 512, 1024],
        help="context lengths of the decode-speed sweep",
    )
    parser.add_argument(
        "--no-anchors", action="store_true", help="leave llama.cpp and onnxruntime-genai out"
    )
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every timing of the run, interleaved, and nothing else: seconds per case and repeat,
    time to first token, the weight choice, the anchors, the weights read per token."""
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
    if "optimum-int8" in runners.engines:
        cases[BEFORE.replace("int8", "engine int8")] = lambda: runners.engine(
            "optimum-int8", single, n
        )[0]
    many: dict[str, Callable[[], float]] = {
        f"Optimum ORT int8, static batch of {args.streams}": lambda: runners.hf_generate(
            runners.optimum["int8"], batch, n
        ),
        f"persian-chat engine int8, {args.streams} concurrent streams": lambda: runners.engine(
            "int8", batch, n
        )[0],
    }
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
    runners.close()
    auto = weights_choice(graphs, args.threads)
    print(
        f"serve --weights auto picks {auto['chosen']} here: "
        + ", ".join(f"{k} {v:.2f} ms/step" for k, v in auto["step_ms"].items())
    )
    engines: dict[str, Any] | None = None
    why_not = "left out (--no-anchors)" if args.no_anchors else missing()
    prompt_ids = chat_prompt(checkpoint) if args.checkpoint else None
    if why_not is None and prompt_ids is None:
        why_not = "the model has no chat template (the anchors need the checkpoint's prompt)"
    if why_not is None and prompt_ids is not None:
        engines = compare_engines(checkpoint, graphs, args, prompt_ids, vocab)
    else:
        print(f"llama.cpp and onnxruntime-genai rows skipped: {why_not}")
    load_after = load_average()
    return {
        "label": label,
        "single": list(cases),
        "many": list(many),
        "seconds": seconds,
        "ttft": ttft,
        "auto": auto,
        "engines": engines,
        "int8_bytes": weight_bytes_per_token(graphs["int8"] / "model.onnx"),
        "bandwidth": bandwidth_gb_s(),
        "load_before": load_before,
        "load_after": load_after,
    }


def speed_rows(
    measured: dict[str, Any], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Batch-1 rows (tokens/s of one stream) and concurrent rows (aggregate tokens/s)."""
    n, seconds = args.new_tokens, measured["seconds"]
    rows = [
        {"runner": name, "seconds": summary(s), "tokens_per_sec": summary([n / x for x in s])}
        for name, s in seconds.items()
        if name in measured["single"]
    ]
    concurrent = [
        {
            "runner": name,
            "seconds": summary(s),
            "aggregate_tokens_per_sec": summary([args.streams * n / x for x in s]),
        }
        for name, s in seconds.items()
        if name in measured["many"]
    ]
    return rows, concurrent


def speed_table(rows: list[dict[str, Any]], concurrent: list[dict[str, Any]]) -> list[list[str]]:
    """Min, median and max tokens/s of each runner, and its median against PyTorch's and
    Optimum int8's."""
    median = {r["runner"]: r["tokens_per_sec"]["median"] for r in rows}
    torch_rate, optimum_int8 = median["PyTorch eager fp32"], median["Optimum ORT int8"]
    pairs = [(r["runner"], r["tokens_per_sec"]) for r in rows]
    pairs += [(c["runner"], c["aggregate_tokens_per_sec"]) for c in concurrent]
    return [
        [
            runner,
            f"{rate['min']:.1f}",
            f"{rate['median']:.1f}",
            f"{rate['max']:.1f}",
            f"{rate['median'] / torch_rate:.2f}x",
            f"{rate['median'] / optimum_int8:.2f}x",
        ]
        for runner, rate in pairs
    ]


def result_of(measured: dict[str, Any], args: argparse.Namespace, name: str) -> dict[str, Any]:
    """The published result: the measured figures, their tables and the prose that says how
    they were taken."""
    rows, concurrent = speed_rows(measured, args)
    label, ttft, auto, engines = (
        measured["label"],
        measured["ttft"],
        measured["auto"],
        measured["engines"],
    )
    int8_bytes, bandwidth = measured["int8_bytes"], measured["bandwidth"]
    ours = next(r for r in rows if r["runner"] == "persian-chat engine int8")
    ours_rate = ours["tokens_per_sec"]["median"]
    tables, ratios, decode_fraction = [], {}, None
    if engines is not None:
        tables = engine_tables(engines, args.contexts)
        ratios = {str(t): engine_ratios(engines, t) for t in args.anchor_threads}
        ours_rows = [r for r in engines["rows"] if r["engine"] == "persian-chat int8"]
        decode = next(
            r["decode_tokens_per_sec"]["median"] for r in ours_rows if r["threads"] == args.threads
        )
        decode_fraction = decode * int8_bytes / (bandwidth * 1e9)
    return {
        "title": f"Decode throughput ({label})",
        "description": (
            f"{'Random-weight GPT-2-small shape' if args.checkpoint is None else label}, "
            f"prompt {args.prompt_tokens} tokens, {args.new_tokens} new tokens (greedy, EOS "
            f"ignored), {args.threads} threads, {args.repeats} interleaved repeats after a "
            f"warm-up; tokens/s = new tokens / wall time including prefill. Ratios use "
            f"medians. Time to first token (our int8 engine, median): "
            + ", ".join(f"{k} tokens {v['median'] * 1000:.0f} ms" for k, v in ttft.items())
            + f". Memory bandwidth (numpy copy) {bandwidth:.1f} GB/s; the int8 graph reads "
            f"{int8_bytes / 1024**2:.0f} MiB of weights per step (embedding tables excluded: "
            f"one row per token) => ceiling "
            f"{bandwidth * 1e9 / int8_bytes:.0f} tokens/s; our int8 batch 1 reaches "
            f"{ours_rate * int8_bytes / (bandwidth * 1e9):.0%} of it end to end"
            + (
                f", {decode_fraction:.0%} in decoding (after the first token)."
                if decode_fraction is not None
                else "."
            )
            + f" `serve --weights auto` picks {auto['chosen']} on this machine ("
            + ", ".join(f"{k} {v:.2f} ms per decode step" for k, v in auto["step_ms"].items())
            + f"; int4 = 4-bit {' + '.join(INT4_NODES)} in blocks of {INT4_BLOCK}, the rest int8)."
        ),
        "weights_auto": auto,
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "load_before": measured["load_before"],
        "load_after": measured["load_after"],
        "batch1": rows,
        "concurrent": concurrent,
        "time_to_first_token_s": ttft,
        "bandwidth": {
            "copy_gb_per_s": bandwidth,
            "int8_weight_bytes": int8_bytes,
            "ceiling_tokens_per_sec": bandwidth * 1e9 / int8_bytes,
            "fraction_of_ceiling": ours_rate * int8_bytes / (bandwidth * 1e9),
            "fraction_of_ceiling_decode": decode_fraction,
        },
        "engines": engines,
        "engine_ratios": ratios,
        "tables": tables,
        "table": {"header": HEADER, "rows": speed_table(rows, concurrent)},
        "plot": f"{name}.png",
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    measured = measure(args)
    name = args.name or f"decode_{measured['label']}"
    result = result_of(measured, args, name)
    plot(result["batch1"], result["concurrent"], RESULTS / f"{name}.png")
    publish(name, result)
    for threads, values in result["engine_ratios"].items():
        print(f"{threads} threads: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
