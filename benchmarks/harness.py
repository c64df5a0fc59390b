"""The served model scored by lm-evaluation-harness through `/v1/completions`, the way any
model is scored: `local-completions` asks for the log-likelihood of each answer choice
(`echo` with `logprobs`), so these figures come from a standard tool, not from our own
evaluation code.

Two multiple-choice tasks of our own, written as lm-eval task YAML over local JSON built
from the held-out rows of `datasets/test.jsonl`:
  persian_chat_sentiment  a review → مثبت / منفی / خنثی
  persian_chat_facts      a fact question (capital, continent, currency, provincial centre)
                          → its answer among three others of the same kind
Each prompt is the chat template's user turn and the model's turn opening, as the served
model is prompted in chat. Needs the `harness` extra (lm-eval, pinned).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import load_average, machine_info, publish
from persian_chat.knowledge import QUESTION_HEADING

SENTIMENTS = ("مثبت", "منفی", "خنثی")
FACT_DOMAINS = ("facts_geography", "facts_currency")
TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: choices
doc_to_target: gold
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def chat_context(question: str) -> str:
    """The prompt text a chat model answers from (Gemma's turn markers, no system turn)."""
    return f"<start_of_turn>user\n{question}<end_of_turn>\n<start_of_turn>model\n"


def _question(row: dict[str, Any]) -> str:
    user = [m["content"] for m in row["messages"] if m["role"] == "user"][-1]
    return str(user.split(f"{QUESTION_HEADING} ")[-1])  # a reading row: the bare question


def task_rows(test_file: Path, seed: int = 13) -> dict[str, list[dict[str, Any]]]:
    """The two tasks' documents from the held-out rows: sentiment with its three labels,
    fact questions with their answer among three others of the same domain."""
    rows = [json.loads(line) for line in test_file.read_text(encoding="utf-8").splitlines()]
    sentiment = [
        {
            "context": chat_context(_question(r)),
            "choices": [f" {label}" for label in SENTIMENTS],
            "gold": SENTIMENTS.index(r["expected"]),
        }
        for r in rows
        if r.get("domain") == "sentiment" and r.get("expected") in SENTIMENTS
    ]
    rng = random.Random(seed)
    facts: list[dict[str, Any]] = []
    for domain in FACT_DOMAINS:
        mine = [r for r in rows if r.get("domain") == domain and isinstance(r.get("expected"), str)]
        answers = sorted({r["expected"] for r in mine})
        for r in mine:
            others = rng.sample([a for a in answers if a != r["expected"]], 3)
            choices = [r["expected"], *others]
            rng.shuffle(choices)
            facts.append(
                {
                    "context": chat_context(_question(r)),
                    "choices": [f" {c}" for c in choices],
                    "gold": choices.index(r["expected"]),
                }
            )
    return {"persian_chat_sentiment": sentiment, "persian_chat_facts": facts}


def write_tasks(rows: dict[str, list[dict[str, Any]]], directory: Path) -> list[str]:
    """Each task's JSON and YAML in `directory` (lm-eval's include path)."""
    for name, docs in rows.items():
        data = directory / f"{name}.json"
        data.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        (directory / f"{name}.yaml").write_text(
            TASK_YAML.format(name=name, data=data), encoding="utf-8"
        )
    return sorted(rows)


def measure(model: Path, test_file: Path, threads: int, limit: int | None) -> dict[str, Any]:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from persian_chat.benchmarks.serving_load import running_server

    with (
        running_server(model, threads, 1) as url,
        tempfile.TemporaryDirectory(prefix="persian-chat-harness-") as work,
    ):
        rows = task_rows(test_file)
        names = write_tasks(rows, Path(work))
        results = simple_evaluate(
            model="local-completions",
            model_args={
                "base_url": f"{url}/v1/completions",
                "model": model.name,  # the served model id: its directory name
                "tokenizer_backend": "huggingface",
                "tokenizer": str(model),
                "tokenized_requests": True,
                "num_concurrent": 1,
                "max_retries": 1,
            },
            tasks=names,
            task_manager=TaskManager(include_path=work),
            limit=limit,
            log_samples=False,
        )
    assert results is not None
    table = {
        name: {
            "documents": len(rows[name]) if limit is None else min(limit, len(rows[name])),
            "acc": round(float(results["results"][name]["acc,none"]), 4),
            "acc_stderr": round(float(results["results"][name].get("acc_stderr,none", 0)), 4),
            "chance": round(1 / len(rows[name][0]["choices"]), 4),
        }
        for name in names
    }
    return {"tasks": table, "lm_eval": results.get("versions", {})}


def describe(result: dict[str, Any]) -> str:
    parts = [
        f"{name}: accuracy {t['acc']:.1%} ± {t['acc_stderr']:.1%} on {t['documents']} "
        f"held-out documents (chance {t['chance']:.0%})"
        for name, t in result["tasks"].items()
    ]
    return (
        "lm-evaluation-harness (`local-completions`, log-likelihood of each choice through "
        "`/v1/completions`) on the served int8 model: " + "; ".join(parts) + "."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat-onnx-int8"))
    parser.add_argument("--test-file", type=Path, default=Path("datasets/test.jsonl"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="documents per task at most")
    parser.add_argument("--name", default="harness")
    args = parser.parse_args(argv)
    load_before = load_average()
    result = measure(args.model, args.test_file, args.threads, args.limit)
    result.update(machine=machine_info(), load_before=load_before, load_after=load_average())
    result.update(title="lm-evaluation-harness", description=describe(result))
    result["table"] = {
        "header": ["task", "documents", "accuracy", "stderr", "chance"],
        "rows": [
            [name, t["documents"], t["acc"], t["acc_stderr"], t["chance"]]
            for name, t in result["tasks"].items()
        ],
    }
    print(result["description"])
    publish(args.name, result)
