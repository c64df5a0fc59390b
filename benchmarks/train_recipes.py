"""Training recipes side by side on the same wall-time budget: LoRA vs full fine-tuning,
learning rates, padded length-grouped vs padding-free packed batches, and epochs (a recipe
with `passes` 2 trains twice over a seeded subset half the size the budget would cover once).

Each recipe first runs a 6-step probe to measure its step time after the first steps, then
trains for the budget: planned for twice the steps the probe rate gives, the time budget stops
it and re-sizes its schedule (cosine with warm-up) to the steps it reaches, as in the
reference run; then its checkpoint is scored on held-out conversations (loss on assistant tokens,
the number `persian-chat evaluate` reports). One process, one recipe after the other; the
load average around each run is recorded.

    persian-chat bench recipes [--minutes 8] [--recipes lora-3e-4-packed,full-2e-5-packed-2pass]
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import (
    load_average,
    machine_info,
    publish,
    save_bar_chart,
)

RECIPE_NAME = re.compile(
    r"(lora|full)-(\d+(?:\.\d+)?e-\d+)-(packed|padded)(?:-(\d+)pass)?"
    r"((?:-(?:freeze-emb|freeze\d+|nodet|compile|t\d+))*)"
)
# throughput switches after the recipe: freeze the embeddings / the lowest N layers (and the
# embeddings), non-deterministic kernels, torch.compile, N torch threads
SWITCH = re.compile(r"-(freeze-emb|freeze\d+|nodet|compile|t\d+)")
# the reference recipe and one throughput switch at a time (README, "The recipe")
THROUGHPUT_RECIPES = (
    "full-2e-5-packed,full-2e-5-packed-nodet,full-2e-5-packed-freeze-emb,"
    "full-2e-5-packed-freeze-emb-nodet,full-2e-5-packed-freeze6,full-2e-5-packed-compile"
)
# turn 1's recipe, the reference runs' recipes, and one axis changed at a time around them
DEFAULT_RECIPES = (
    "lora-2e-4-padded,lora-3e-4-padded,lora-3e-4-packed,lora-1e-3-packed,"
    "full-2e-5-packed,full-5e-5-packed,full-2e-5-packed-2pass"
)


def parse_recipe(name: str) -> dict[str, Any]:
    """`{lora|full}-{learning rate}-{packed|padded}[-{N}pass]` -> the training settings, so a
    recipe is named by what it does and any point of the grid can be asked for."""
    match = RECIPE_NAME.fullmatch(name)
    if match is None:
        raise SystemExit(
            f"recipe {name!r}: expected {{lora|full}}-{{learning rate}}-{{packed|padded}}"
            "[-{N}pass][-freeze-emb|-freeze{N}|-nodet|-compile|-t{N}...], "
            "e.g. full-2e-5-packed-2pass or full-2e-5-packed-freeze6"
        )
    method, rate, batches, passes, switches = match.groups()
    settings: dict[str, Any] = {
        "lora": method == "lora",
        "learning_rate": float(rate),
        "packing": batches == "packed",
        "passes": int(passes or 1),
    }
    for switch in SWITCH.findall(switches):
        if switch == "freeze-emb":
            settings["freeze_embeddings"] = True
        elif switch.startswith("freeze"):
            settings["freeze_embeddings"] = True
            settings["freeze_layers"] = int(switch.removeprefix("freeze"))
        elif switch == "nodet":
            settings["deterministic"] = False
        elif switch == "compile":
            settings["compile"] = True
        else:
            settings["threads"] = int(switch.removeprefix("t"))
    return settings


PROBE_STEPS = 6  # logged every 2: the rate is taken over steps 2-6
PLAN_MARGIN = 2.0
HEADER = [
    "recipe",
    "steps",
    "s/step",
    "tokens seen",
    "tokens/s",
    "train loss (last 10%)",
    "held-out loss",
    "held-out perplexity",
    "wall s",
]


def held_out_loss(model_dir: Path, data_dir: Path, examples: int, max_length: int) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from persian_chat.training.chat_data import load_conversations, spread
    from persian_chat.training.evaluate import score

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    # evenly spaced, so every source keeps its share (the file is not shuffled by source)
    conversations = spread(load_conversations(data_dir / "test.jsonl"), examples)
    loss = score(model, tokenizer, conversations, max_length).eval_loss
    del model
    gc.collect()
    return loss


def steady_step_seconds(log: Path) -> float:
    """Seconds per step after the first logged one (loading, the first step's allocations
    and torch.compile's compilation left out), from a probe's train.log."""
    from persian_chat.loss_log import read_log

    records = [r for r in read_log(log) if "elapsed_s" in r]
    if len(records) < 2:
        raise SystemExit(f"{log}: the probe logged fewer than two steps")
    first, last = records[0], records[-1]
    seconds = float(last["elapsed_s"]) - float(first["elapsed_s"])
    return seconds / max(int(last["step"]) - int(first["step"]), 1)


def run_recipe(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from persian_chat.training.train import TrainConfig, train

    recipe = parse_recipe(name)
    passes = recipe.pop("passes")
    common = {
        "base_model": args.base_model,
        "data_dir": args.data_dir,
        "models_dir": args.models_dir,
        "trim_vocab": True,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": args.threads,
        "logging_steps": 2,
        "save_steps": 100_000,
        "seed": 13,
        **recipe,
    }
    probe_dir = work / f"{name}-probe"
    train(
        TrainConfig.model_validate(
            {
                **common,
                "max_steps": PROBE_STEPS,
                "output_dir": probe_dir / "model",
                "logs_dir": probe_dir,
            }
        )
    )
    step_s = steady_step_seconds(probe_dir / "train.log")
    # planned with room to spare: the time budget stops the run and re-sizes its schedule to
    # the steps it reaches (as in the reference run), so every recipe trains the same minutes
    steps = max(4, int(PLAN_MARGIN * args.minutes * 60 / step_s))
    if passes > 1:  # the same steps over a subset seen `passes` times (max_steps repeats it)
        common["max_train_examples"] = max(args.batch_size, steps * args.batch_size // passes)
    shutil.rmtree(probe_dir, ignore_errors=True)
    out = work / name
    load_before = load_average()
    manifest = train(
        TrainConfig.model_validate(
            {
                **common,
                "max_steps": steps,
                "time_budget_minutes": args.minutes,
                "output_dir": out / "model",
                "logs_dir": out,
            }
        )
    )
    loss = held_out_loss(out / "model", args.data_dir, args.eval_examples, args.max_length)
    trend = manifest.get("smoothed_loss") or {}
    result = {
        "recipe": name,
        **parse_recipe(name),
        "planned_steps": steps,
        "steps": manifest["steps"],
        "step_s": manifest["train_runtime_s"] / max(manifest["steps"], 1),
        "examples_used": manifest["examples"]["used"],
        "tokens_seen": manifest["tokens_seen"],
        "tokens_per_sec": manifest["tokens_per_sec"],
        "trainable_parameters": manifest["parameters"]["trainable"],
        "train_loss_start": trend.get("start"),
        "train_loss_end": trend.get("end"),
        "held_out_loss": loss,
        "wall_s": manifest["wall_time_s"],
        "load_before": load_before,
        "load_after": load_average(),
    }
    if args.keep:
        shutil.copytree(out / "model", args.keep / name, dirs_exist_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-model", default="gemma3-270m")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument(
        "--recipes",
        default=DEFAULT_RECIPES,
        help="comma-separated {lora|full}-{learning rate}-{packed|padded}[-{N}pass][-switch...]"
        ", or `throughput`: the reference recipe and one throughput switch at a time",
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per recipe")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--eval-examples", type=int, default=300)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="copy each checkpoint here")
    parser.add_argument("--name", default="train_recipes", help="result file name")
    args = parser.parse_args(argv)
    recipes = THROUGHPUT_RECIPES if args.recipes == "throughput" else args.recipes
    names = [n.strip() for n in recipes.split(",") if n.strip()]
    for name in names:
        parse_recipe(name)  # a misspelt name fails before the first recipe trains
    runs = []
    with tempfile.TemporaryDirectory(prefix="recipes-") as tmp:
        for name in names:
            print(f"recipe {name}: {args.minutes} min", flush=True)
            runs.append(run_recipe(name, args, Path(tmp)))
            print(f"  held-out loss {runs[-1]['held_out_loss']:.4f}", flush=True)
    import math

    rows = [
        [
            r["recipe"],
            r["steps"],
            f"{r['step_s']:.2f}",
            f"{r['tokens_seen']:,}",
            f"{r['tokens_per_sec']:.0f}",
            f"{r['train_loss_start']} → {r['train_loss_end']}",
            f"{r['held_out_loss']:.4f}",
            f"{math.exp(r['held_out_loss']):.2f}",
            f"{r['wall_s']:.0f}",
        ]
        for r in runs
    ]
    result = {
        "title": "Training recipes on the same time budget (trimmed Gemma-3-270M)",
        "description": (
            f"{args.minutes} minutes of training each (the time budget ends each run and its "
            f"schedule; tokens/s over the whole run, its first steps included), "
            f"batch {args.batch_size} (packed: that many conversations in one padding-free "
            f"row), max length {args.max_length}; held-out loss on "
            f"{args.eval_examples} evenly spaced conversations of test.jsonl."
        ),
        "machine": machine_info(),
        "settings": {**{k: str(v) for k, v in vars(args).items()}},
        "runs": runs,
        "table": {"header": HEADER, "rows": rows},
    }
    path = publish(args.name, result)
    save_bar_chart(
        [r["recipe"] for r in runs],
        [r["held_out_loss"] for r in runs],
        "held-out loss on assistant tokens (lower is better), same time budget",
        path.with_suffix(".png"),
    )


if __name__ == "__main__":
    main()
