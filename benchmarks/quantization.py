"""Dynamic int8 settings side by side: per-channel vs per-tensor weights, reduce_range on/off.

Each variant quantizes the same fp32 ONNX export of models/persian-chat with ORTQuantizer,
then is measured on the same data in one process: test-set perplexity (assistant tokens),
greedy decode speed with the KV cache (tokens/s, batch 1) and file size. The fp32 graph is
the reference row.

    python benchmarks/quantization.py [--model models/persian-chat] [--examples 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_average, machine_info, write_result

VARIANTS = (
    ("avx512_vnni", True, False),
    ("avx512_vnni", False, False),
    ("avx2", True, True),
    ("avx2", True, False),
    ("avx2", False, True),
)
HEADER = ["graph", "per_channel", "reduce_range", "MiB", "perplexity", "vs fp32", "decode tokens/s"]


def decode_speed(decoder: Any, prompt: list[int], tokens: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        decoder.greedy(prompt, tokens, stop_ids=set())
        rates.append(tokens / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat"))
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from persian_chat.export.onnx_export import QuantizationChoice, export_fp32, quantize_int8
    from persian_chat.export.parity import PARITY_PROMPTS, onnx_perplexity, prompt_ids
    from persian_chat.server.onnx_model import OnnxDecoder
    from persian_chat.training.chat_data import load_conversations

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    test = load_conversations(args.data_dir / "test.jsonl")[: args.examples]
    prompt = prompt_ids(tokenizer, PARITY_PROMPTS[0])
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        fp32_dir = Path(tmp) / "fp32"
        export_fp32(args.model, fp32_dir)
        graphs: list[tuple[str, Any, Any, Path]] = [("fp32", None, None, fp32_dir / "model.onnx")]
        for target, per_channel, reduce_range in VARIANTS:
            out = Path(tmp) / f"{target}-{per_channel}-{reduce_range}"
            path = quantize_int8(
                fp32_dir, out, QuantizationChoice(target, per_channel, reduce_range)
            )
            graphs.append((f"int8 {target}", per_channel, reduce_range, path))
        reference = None
        for name, per_channel, reduce_range, path in graphs:
            print(
                f"measuring {name} per_channel={per_channel} reduce_range={reduce_range}",
                flush=True,
            )
            decoder = OnnxDecoder(path, args.threads)
            load_before = load_average()
            ppl = onnx_perplexity(decoder, tokenizer, test, 512)
            speed = decode_speed(decoder, prompt, args.tokens, args.repeats)
            reference = reference or ppl
            size = sum(p.stat().st_size for p in path.parent.glob("model.onnx*")) / 1024**2
            runs.append({"graph": name, "per_channel": per_channel, "reduce_range": reduce_range,
                         "mib": size, "perplexity": ppl, "decode_tokens_per_sec": speed,
                         "load_before": load_before, "load_after": load_average()})  # fmt: skip
            rows.append([name, "-" if per_channel is None else per_channel,
                         "-" if reduce_range is None else reduce_range, f"{size:.1f}", f"{ppl:.3f}",
                         f"{ppl / reference - 1:+.2%}", f"{speed:.1f}"])  # fmt: skip
    result = {
        "title": "Dynamic int8 quantization settings (fine-tuned Gemma-3-270M, trimmed vocabulary)",
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
