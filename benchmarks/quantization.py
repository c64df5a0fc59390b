"""int8 settings side by side: block-wise weight-only int8 (MatMulNBits, block 32 / 128) and
Optimum's dynamic int8 (per-channel vs per-tensor weights, reduce_range on/off).

Each variant quantizes the same fp32 ONNX export of models/persian-chat, then is measured on
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
from typing import Any

from persian_chat.benchmarks.common import load_average, machine_info, write_result

HEADER = ["graph", "settings", "MiB", "perplexity", "vs fp32", "decode tokens/s"]


def decode_speed(decoder: Any, prompt: list[int], tokens: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        decoder.greedy(prompt, tokens, stop_ids=set())
        rates.append(tokens / (time.perf_counter() - start))
    return statistics.median(rates)


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
    args = parser.parse_args(argv)

    from transformers import AutoTokenizer

    from persian_chat.export.onnx_export import QuantizationChoice, export_fp32, quantize_int8

    variants = [
        QuantizationChoice("blockwise", "avx512_vnni", block_size=32),
        QuantizationChoice("blockwise", "avx512_vnni", block_size=128),
        QuantizationChoice("dynamic", "avx512_vnni", per_channel=True, reduce_range=False),
        QuantizationChoice("dynamic", "avx512_vnni", per_channel=False, reduce_range=False),
        QuantizationChoice("dynamic", "avx2", per_channel=True, reduce_range=True),
        QuantizationChoice("dynamic", "avx2", per_channel=False, reduce_range=True),
    ]
    from persian_chat.export.parity import PARITY_PROMPTS, onnx_perplexity, prompt_ids
    from persian_chat.server.onnx_model import load_decoder
    from persian_chat.training.chat_data import load_conversations

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    test = load_conversations(args.data_dir / "test.jsonl")[: args.examples]
    prompt = prompt_ids(tokenizer, PARITY_PROMPTS[0])
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        fp32_dir = Path(tmp) / "fp32"
        export_fp32(args.model, fp32_dir)
        graphs: list[tuple[str, str, Path]] = [("fp32", "-", fp32_dir / "model.onnx")]
        for number, choice in enumerate(variants):
            path = quantize_int8(fp32_dir, Path(tmp) / f"int8-{number}", choice)
            settings = (
                f"block {choice.block_size}"
                if choice.method == "blockwise"
                else f"{choice.target}, per_channel={choice.per_channel}, "
                f"reduce_range={choice.reduce_range}"
            )
            graphs.append((f"int8 {choice.method}", settings, path))
        reference = None
        for name, settings, path in graphs:
            print(f"measuring {name} {settings}", flush=True)
            decoder = load_decoder(path, args.threads)
            load_before = load_average()
            ppl = onnx_perplexity(decoder, tokenizer, test, 512)
            speed = decode_speed(decoder, prompt, args.tokens, args.repeats)
            reference = reference or ppl
            size = sum(p.stat().st_size for p in path.parent.glob("model.onnx*")) / 1024**2
            runs.append({"graph": name, "settings": settings, "mib": size, "perplexity": ppl,
                         "decode_tokens_per_sec": speed, "load_before": load_before,
                         "load_after": load_average()})  # fmt: skip
            rows.append([name, settings, f"{size:.1f}", f"{ppl:.3f}", f"{ppl / reference - 1:+.2%}",
                         f"{speed:.1f}"])  # fmt: skip
    result = {
        "title": "int8 quantization settings (fine-tuned Gemma-3-270M, trimmed vocabulary)",
        "description": (
            f"Perplexity on the first {len(test)} test conversations (assistant tokens), greedy "
            f"decode of {args.tokens} tokens with the KV cache at batch 1 (median of "
            f"{args.repeats}), {args.threads} threads, all variants from one fp32 export."
        ),
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "runs": runs,
        "table": {"header": HEADER, "rows": rows},
    }
    print(f"wrote {write_result('quantization', result)}")


if __name__ == "__main__":
    main()
