"""Training step time on Gemma-3-270M, side by side: full vs trimmed vocabulary, LoRA vs full.

Every configuration trains the same real batches (fixed-length windows of the rendered
training conversations, so each step sees the same number of tokens) with AdamW, one warm-up
step and N timed steps, in one process, one after the other; the machine's load average is
recorded around each so a disturbed run shows.

    python benchmarks/train_throughput.py [--steps 4] [--batch-size 4] [--seq-len 256]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import (
    load_average,
    machine_info,
    publish,
    save_bar_chart,
)

CONFIGS = (
    {"name": "full vocabulary, LoRA", "trim": False, "lora": True},
    {"name": "trimmed vocabulary, LoRA", "trim": True, "lora": True},
    {"name": "full vocabulary, full fine-tune", "trim": False, "lora": False},
    {"name": "trimmed vocabulary, full fine-tune", "trim": True, "lora": False},
)


def batches(tokenizer: Any, data_dir: Path, batch: int, seq_len: int, count: int) -> list[Any]:
    import torch

    from persian_chat.chat_template import render
    from persian_chat.training.chat_data import load_conversations

    text = "".join(
        render(c["messages"], tokenizer.bos_token, template=tokenizer.chat_template)
        for c in load_conversations(data_dir / "train.jsonl")[:400]
    )
    ids = tokenizer(text, add_special_tokens=False).input_ids
    need = batch * seq_len * count
    if len(ids) < need:
        raise SystemExit(f"not enough text for {count} batches of {batch}x{seq_len}")
    return [
        torch.tensor(ids[i * batch * seq_len : (i + 1) * batch * seq_len]).view(batch, seq_len)
        for i in range(count)
    ]


def run_config(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from persian_chat.training.base_models import load_base
    from persian_chat.training.lora import apply_lora, count_parameters

    torch.manual_seed(0)
    model, tokenizer, _ = load_base(args.base_model)
    if config["trim"]:
        from persian_chat.training.trim_vocab import trim_model_vocabulary

        model, tokenizer = trim_model_vocabulary(model, tokenizer, args.data_dir)
    if config["lora"]:
        model = apply_lora(model, 16, 32, 0.0)
    total, trainable = count_parameters(model)
    # token ids of the trimmed tokenizer differ, but both see the same text and token count
    data = batches(tokenizer, args.data_dir, args.batch_size, args.seq_len, args.steps + 1)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    load_before = load_average()
    times = []
    for step, batch in enumerate(data):
        start = time.perf_counter()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step > 0:  # the first step warms up allocations and kernels
            times.append(time.perf_counter() - start)
    tokens = args.batch_size * args.seq_len
    result = {
        **config,
        "vocabulary": len(tokenizer),
        "parameters": total,
        "trainable": trainable,
        "step_s": {"min": min(times), "median": statistics.median(times), "max": max(times)},
        "tokens_per_sec": tokens / statistics.median(times),
        "load_before": load_before,
        "load_after": load_average(),
    }
    del model, optimizer
    gc.collect()
    return result


HEADER = [
    "configuration",
    "vocabulary",
    "parameters",
    "trainable",
    "s/step median (min-max)",
    "tokens/s",
    "speed-up",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-model", default="gemma3-270m")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    import psutil
    import torch

    threads = args.threads or psutil.cpu_count(logical=False) or 1
    torch.set_num_threads(threads)
    runs = []
    for config in CONFIGS:
        print(f"running: {config['name']}", flush=True)
        runs.append(run_config(config, args))
        print(f"  median {runs[-1]['step_s']['median']:.2f} s/step", flush=True)
    base = runs[0]["step_s"]["median"]
    rows = [
        [
            r["name"],
            r["vocabulary"],
            f"{r['parameters']:,}",
            f"{r['trainable']:,}",
            f"{r['step_s']['median']:.2f} ({r['step_s']['min']:.2f}-{r['step_s']['max']:.2f})",
            f"{r['tokens_per_sec']:.0f}",
            f"{base / r['step_s']['median']:.2f}x",
        ]
        for r in runs
    ]
    result = {
        "title": "Training step time: vocabulary trimming and LoRA (Gemma-3-270M)",
        "description": (
            f"AdamW steps of {args.batch_size}x{args.seq_len} tokens of real training text, "
            f"{args.steps} timed steps after one warm-up, {threads} threads, in one process. "
            "Speed-up is against the first row."
        ),
        "machine": machine_info(),
        "settings": {**vars(args), "data_dir": str(args.data_dir), "threads": threads},
        "runs": runs,
        "table": {"header": HEADER, "rows": rows},
    }
    path = publish("train_throughput", result)
    save_bar_chart(
        [r["name"] for r in runs],
        [r["step_s"]["median"] for r in runs],
        "seconds per optimizer step (median)",
        path.with_suffix(".png"),
    )


if __name__ == "__main__":
    main()
