"""Quantization settings side by side on the graph `persian-chat export` serves: block-wise
weight-only int8 (MatMulNBits, block 32 / 128), int4 variants (symmetric block 32 as
onnxruntime-genai's builder makes it, asymmetric block 16, and int4 only in the MLP or its
gate/up projection with the rest int8; the MLP also in blocks of 32 and 64, and with HQQ's
fitted scales) and, on Optimum's graph (ORTQuantizer cannot type the
GroupQueryAttention graph), Optimum's dynamic int8 (per-channel vs per-tensor weights,
reduce_range on/off). Mixed precision (`--mixed`): each layer's MLP alone in int4 (the rest
int8) measures that layer's sensitivity, then the least sensitive layers whose summed
perplexity increases stay within a budget get int4 together, and that graph is measured
like the others (`--mixed-only` leaves the fixed variants out). GPTQ (`--gptq`): the int4
nodes chosen by GPTQ on `--calibration` training conversations instead of rounded to the
nearest level, each beside its round-to-nearest twin (`--gptq-only`: those pairs, fp32 and
the served int8 only).

Each variant quantizes the same fp32 graph of models/persian-chat, then is measured on
the same data in one process: test-set perplexity (assistant tokens), greedy decode speed
with the KV cache (tokens/s, batch 1) and file size. The fp32 graph is the reference row.

    python benchmarks/quantization.py [--model models/persian-chat] [--examples 60]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from persian_chat.benchmarks.common import load_average, machine_info, publish
from persian_chat.export.gptq import CALIBRATION_PROMPTS, CALIBRATION_TOKENS

HEADER = ["graph", "settings", "MiB", "perplexity", "vs fp32", "decode tokens/s"]


def decode_speed(decoder: Any, prompt: list[int], tokens: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        decoder.greedy(prompt, tokens, stop_ids=set())
        rates.append(tokens / (time.perf_counter() - start))
    return statistics.median(rates)


def mixed_layers(
    fp32_dir: Path, work: Path, tokenizer: Any, test: list[Any], layers: int, args: Any
) -> dict[str, Any]:
    """Each layer's MLP alone in int4 (the rest int8): what that costs in perplexity over the
    all-int8 graph on the first `--sensitivity-examples` conversations, which orders the
    layers. The costs do not add up (measured: 15 layers whose single costs summed to under
    1% cost +6.8% together), so the mixed graph is the longest prefix of that order whose
    own perplexity on all the test conversations stays within `--mixed-budget` over fp32,
    found by bisection, each candidate measured."""
    from persian_chat.export.onnx_export import QuantizationChoice, quantize_int8
    from persian_chat.export.parity import onnx_perplexity
    from persian_chat.server.kv.onnx_model import load_decoder

    def choice(chosen: list[int]) -> QuantizationChoice:
        nodes = tuple(f"L{i}/{part}" for i in chosen for part in ("gate_up", "down_proj"))
        return QuantizationChoice(
            "blockwise",
            "avx512_vnni",
            int4_nodes=nodes,
            int4_symmetric=False,
            int4_block_size=args.mixed_block,
        )

    sample = test[: args.sensitivity_examples]

    def perplexity(path: Path) -> float:
        return onnx_perplexity(load_decoder(path, args.threads), tokenizer, sample, 512)

    fp32 = perplexity(fp32_dir / "model.onnx")
    base = QuantizationChoice("blockwise", "avx512_vnni")
    int8 = perplexity(quantize_int8(fp32_dir, work / "int8", base))
    int8_increase = int8 / fp32 - 1
    sensitivity: dict[str, float] = {}  # over the all-int8 graph
    for layer in range(layers):
        path = quantize_int8(fp32_dir, work / f"layer-{layer}", choice([layer]))
        sensitivity[str(layer)] = perplexity(path) / int8 - 1
        print(f"layer {layer}: {sensitivity[str(layer)]:+.2%} over int8", flush=True)
        for old in path.parent.glob("model.onnx*"):
            old.unlink()
    order = sorted(range(layers), key=lambda i: sensitivity[str(i)])
    full_fp32 = onnx_perplexity(
        load_decoder(fp32_dir / "model.onnx", args.threads), tokenizer, test, 512
    )
    tried: dict[int, float] = {}  # prefix length -> its increase over fp32 on all of `test`

    def increase(count: int) -> float:
        path = quantize_int8(fp32_dir, work / f"prefix-{count}", choice(sorted(order[:count])))
        ppl = onnx_perplexity(load_decoder(path, args.threads), tokenizer, test, 512)
        tried[count] = ppl / full_fp32 - 1
        print(f"{count} layers in int4: {tried[count]:+.2%} over fp32", flush=True)
        return tried[count]

    low, high = 0, layers  # low fits (0 layers: int8 itself), high is not yet known to fit
    while low < high:
        middle = (low + high + 1) // 2
        if increase(middle) <= args.mixed_budget:
            low = middle
        else:
            high = middle - 1
    chosen = order[:low]
    spent = tried.get(low, int8_increase)
    chosen.sort()
    if not chosen:  # an empty int4_nodes would mean every MatMul: no mixed graph then
        return {
            "path": None,
            "layers": [],
            "sensitivity": sensitivity,
            "examples": len(sample),
            "int8_increase": int8_increase,
        }
    path = quantize_int8(fp32_dir, work / "chosen", choice(chosen))
    return {
        "path": path,
        "layers": chosen,
        "sensitivity": sensitivity,
        "examples": len(sample),
        "int8_increase": int8_increase,
        "increase": spent,
        "bisection": {str(k): v for k, v in sorted(tried.items())},
        "budget": args.mixed_budget,
        "nodes": list(choice(chosen).int4_nodes or ()),
        "settings": (
            f"MLP int4 (asymmetric, block {args.mixed_block}) in layers "
            f"{', '.join(map(str, chosen)) or 'none'}; the rest int8"
        ),
    }


GPTQ_VARIANTS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("gate_up",), 16),  # the int4 graph `export --int4` makes with round to nearest
    (("gate_up",), 32),
    (("gate_up", "down_proj"), 32),  # the whole MLP
)


def gptq_pairs() -> list[Any]:
    """Each GPTQ variant after its round-to-nearest twin (same nodes, blocks, asymmetric)."""
    from persian_chat.export.onnx_export import QuantizationChoice, int4_choice

    base = QuantizationChoice("blockwise", "avx512_vnni")
    algorithms: tuple[Literal["rtn", "gptq"], ...] = ("rtn", "gptq")
    return [
        int4_choice(base, nodes, block, algorithm)
        for nodes, block in GPTQ_VARIANTS
        for algorithm in algorithms
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat"))
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mixed", action="store_true", help="add the mixed-precision search")
    parser.add_argument(
        "--mixed-only", action="store_true", help="fp32, served int8 and the mixed search only"
    )
    parser.add_argument(
        "--mixed-budget", type=float, default=0.025, help="summed perplexity increase allowed"
    )
    parser.add_argument("--mixed-block", type=int, default=32, help="int4 block size (mixed)")
    parser.add_argument(
        "--sensitivity-examples", type=int, default=30, help="test conversations per layer"
    )
    parser.add_argument("--gptq", action="store_true", help="add GPTQ int4 rows")
    parser.add_argument(
        "--gptq-only",
        action="store_true",
        help="fp32, served int8 and GPTQ rows beside their round-to-nearest twins only",
    )
    parser.add_argument(
        "--calibration",
        type=int,
        default=CALIBRATION_PROMPTS,
        help="training conversations GPTQ calibrates on",
    )
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from persian_chat.export.gqa_graph import build_gqa_graph, gqa_supported
    from persian_chat.export.onnx_export import QuantizationChoice, export_fp32, quantize_int8

    blockwise = [
        QuantizationChoice("blockwise", "avx512_vnni", block_size=32),
        QuantizationChoice("blockwise", "avx512_vnni", block_size=128),
        QuantizationChoice("blockwise", "avx512_vnni", int4_nodes=(), int4_block_size=32),
        QuantizationChoice("blockwise", "avx512_vnni", int4_nodes=(), int4_symmetric=False),
        QuantizationChoice(
            "blockwise", "avx512_vnni", int4_nodes=("gate_up", "down_proj"), int4_symmetric=False
        ),
        QuantizationChoice(
            "blockwise", "avx512_vnni", int4_nodes=("gate_up",), int4_symmetric=False
        ),
        # the MLP in int4 with the larger blocks its fast kernels need, and HQQ's fitted
        # scales and zero points (no calibration data) instead of rounding to nearest
        QuantizationChoice(
            "blockwise",
            "avx512_vnni",
            int4_nodes=("gate_up", "down_proj"),
            int4_symmetric=False,
            int4_block_size=32,
        ),
        QuantizationChoice(
            "blockwise",
            "avx512_vnni",
            int4_nodes=("gate_up", "down_proj"),
            int4_symmetric=False,
            int4_block_size=64,
        ),
        QuantizationChoice(
            "blockwise",
            "avx512_vnni",
            int4_nodes=("gate_up", "down_proj"),
            int4_symmetric=False,
            int4_block_size=64,
            int4_algorithm="hqq",
        ),
    ]
    dynamic = [
        QuantizationChoice("dynamic", "avx512_vnni", per_channel=True, reduce_range=False),
        QuantizationChoice("dynamic", "avx512_vnni", per_channel=False, reduce_range=False),
        QuantizationChoice("dynamic", "avx2", per_channel=True, reduce_range=True),
        QuantizationChoice("dynamic", "avx2", per_channel=False, reduce_range=True),
    ]
    from persian_chat.export.gptq import calibration_ids
    from persian_chat.export.parity import PARITY_PROMPTS, onnx_perplexity, prompt_ids
    from persian_chat.server.kv.onnx_model import load_decoder
    from persian_chat.training.chat_data import load_conversations, spread

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    # evenly spaced over the test set, as export's parity check takes them: the first rows
    # are one kind (a mixed graph chosen on them was +2.3% there and +4.4% on export's 400)
    test = spread(load_conversations(args.data_dir / "test.jsonl"), args.examples)
    prompt = prompt_ids(tokenizer, PARITY_PROMPTS[0])
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        optimum_dir, fp32_dir = Path(tmp) / "optimum-fp32", Path(tmp) / "fp32"
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
        layers = int(model.config.num_hidden_layers)
        gqa = gqa_supported(model.config)
        if gqa:
            build_gqa_graph(model, fp32_dir, 4096)
        del model
        if not gqa or not args.mixed_only:  # the dynamic variants run on Optimum's graph
            export_fp32(args.model, optimum_dir)
        if not gqa:
            fp32_dir = optimum_dir
        graphs: list[tuple[str, str, Path]] = [("fp32", "-", fp32_dir / "model.onnx")]
        mixed: dict[str, Any] = {}
        if args.mixed or args.mixed_only:
            mixed = mixed_layers(fp32_dir, Path(tmp) / "mixed", tokenizer, test, layers, args)
            if mixed["path"] is not None:
                graphs.append(("int4 mixed", mixed["settings"], mixed["path"]))
        only = args.mixed_only or args.gptq_only
        fixed = [blockwise[1]] if only else [*blockwise, *dynamic]
        calibration = None
        if (args.gptq or args.gptq_only) and gqa:
            fixed += gptq_pairs()
            train = load_conversations(args.data_dir / "train.jsonl")
            calibration = calibration_ids(tokenizer, spread(train, args.calibration))
        for number, choice in enumerate(fixed):
            source = fp32_dir if choice.method == "blockwise" else optimum_dir
            gptq = choice.int4_algorithm == "gptq"
            started = time.perf_counter()
            path = quantize_int8(
                source, Path(tmp) / f"q-{number}", choice, calibration if gptq else None
            )
            if gptq:
                print(f"GPTQ took {time.perf_counter() - started:.0f} s", flush=True)
            if choice.method == "dynamic":
                name = "int8 dynamic (Optimum graph)"
                settings = (
                    f"{choice.target}, per_channel={choice.per_channel}, "
                    f"reduce_range={choice.reduce_range}"
                )
            elif choice.int4_nodes is None:
                name, settings = "int8 blockwise", f"block {choice.block_size}"
            else:
                kind = "symmetric" if choice.int4_symmetric else "asymmetric"
                kind += {"rtn": "", "hqq": ", HQQ", "gptq": ", GPTQ"}[choice.int4_algorithm]
                nodes = " + ".join(choice.int4_nodes) or "every MatMul"
                name = "int4 blockwise"
                settings = f"{kind} block {choice.int4_block_size} in {nodes}; the rest int8"
            graphs.append((name, settings, path))
        reference = None
        for name, settings, path in graphs:
            print(f"measuring {name} {settings}", flush=True)
            decoder = load_decoder(path, args.threads)
            load_before = load_average()
            ppl = onnx_perplexity(decoder, tokenizer, test, 512)
            speed = decode_speed(decoder, prompt, args.tokens, args.repeats)
            reference = reference or ppl
            size = sum(p.stat().st_size for p in path.parent.glob("model.onnx*")) / 1024**2
            runs.append(
                {
                    "graph": name,
                    "settings": settings,
                    "mib": size,
                    "perplexity": ppl,
                    "decode_tokens_per_sec": speed,
                    "load_before": load_before,
                    "load_after": load_average(),
                }
            )
            rows.append(
                [
                    name,
                    settings,
                    f"{size:.1f}",
                    f"{ppl:.3f}",
                    f"{ppl / reference - 1:+.2%}",
                    f"{speed:.1f}",
                ]
            )
    result: dict[str, Any] = {
        "title": "Quantization settings (fine-tuned Gemma-3-270M, trimmed vocabulary)",
        "description": (
            f"Perplexity on {len(test)} test conversations spread evenly over the test set "
            f"(assistant tokens), greedy "
            f"decode of {args.tokens} tokens with the KV cache at batch 1 (median of "
            f"{args.repeats}), {args.threads} threads, all variants from one fp32 export."
            + (
                f" GPTQ calibrates on the first {CALIBRATION_TOKENS} tokens of {args.calibration} "
                f"training conversations spread over train.jsonl (never the test set)."
                if args.gptq or args.gptq_only
                else ""
            )
        ),
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "runs": runs,
        "table": {"header": HEADER, "rows": rows},
    }
    if mixed:
        result["mixed"] = {k: v for k, v in mixed.items() if k != "path"}
        result["mixed"]["graph"] = str(mixed["path"]) if mixed["path"] else None
        result["tables"] = [
            {
                "title": (
                    f"Layer sensitivity: one layer's MLP in int4 (asymmetric, blocks of "
                    f"{args.mixed_block}), the rest int8, perplexity over the all-int8 graph "
                    f"(itself {mixed['int8_increase']:+.2%} over fp32) on "
                    f"{mixed['examples']} test conversations"
                ),
                "header": ["layer", "perplexity vs int8", "in the mixed graph"],
                "rows": [
                    [layer, f"{increase:+.2%}", "yes" if int(layer) in mixed["layers"] else ""]
                    for layer, increase in mixed["sensitivity"].items()
                ],
            }
        ]
    name = "quantization"
    if args.mixed_only or args.gptq_only:
        name += "_mixed" if args.mixed_only else "_gptq"
    publish(name, result)


if __name__ == "__main__":
    main()
