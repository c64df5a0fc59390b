from __future__ import annotations

import json
import shutil
from pathlib import Path

from persian_chat.benchmarks.report import build_report


def test_report_without_artifacts_says_so(tmp_path: Path) -> None:
    text = build_report(tmp_path)
    assert "No dataset yet" in text
    assert "Not run yet" in text and "persian-chat train" in text
    assert "No results yet" in text


def test_report_figures_come_from_the_manifest(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "datasets", tmp_path / "datasets")
    manifest = json.loads((tmp_path / "datasets/manifest.json").read_text(encoding="utf-8"))
    text = build_report(tmp_path)
    counts = manifest["counts"]
    assert f"{counts['train']} train and {counts['test']} test conversations" in text
    assert (tmp_path / "datasets/SHA256SUMS").read_text(encoding="utf-8").splitlines()[0] in text
    for source in manifest["sources"]:
        assert source["source"] in text


def test_tests_benchmarks_and_limitations_come_from_files(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "datasets", tmp_path / "datasets")
    (tmp_path / "logs").mkdir()
    summary = {
        "date": "2026-11-22T00:00:00+00:00",
        "python": "3.11.7",
        "duration_s": 321.0,
        "exit_status": 0,
        "counts": {"passed": 296, "failed": 0, "skipped": 1},
    }
    (tmp_path / "logs/pytest-summary.json").write_text(json.dumps(summary), encoding="utf-8")
    results = tmp_path / "benchmarks/results"
    results.mkdir(parents=True)
    bench = {
        "title": "Decode",
        "description": "d",
        "load_before": [3.5, 1, 1],
        "machine": {
            "logical_cores": 2,
            "physical_cores": 2,
            "cpu": "X",
            "cpu_flags": [],
            "memory_gib": 8,
        },
        "table": {"header": ["a", "b"], "rows": [["1", "2"]]},
    }
    (results / "decode.json").write_text(json.dumps(bench), encoding="utf-8")
    text = build_report(tmp_path)
    assert "296 passed, 1 skipped in 321 s, exit status 0" in text
    # the latest local `make test` (not versioned) wins over the committed record
    (tmp_path / "test-artifacts").mkdir()
    latest = {**summary, "counts": {"passed": 300, "failed": 1}, "exit_status": 1}
    (tmp_path / "test-artifacts/pytest-summary.json").write_text(json.dumps(latest), "utf-8")
    assert "300 passed, 1 failed in 321 s, exit status 1" in build_report(tmp_path)
    assert "| a | b |" in text and "| 1 | 2 |" in text
    assert "`decode.json` (1-minute load 3.5 on 2 cores)" in text
    kept = sum(
        s["counts"]["kept"]
        for s in json.loads((tmp_path / "datasets/manifest.json").read_text(encoding="utf-8"))[
            "sources"
        ]
    )
    assert f"{kept} kept rows" in text and "Gemma Terms of Use" in text
    assert "make demo" in text and "2 physical / 2 logical, 8 GiB" in text


def _chat_figures(loop_rate: float, em: float | None) -> dict[str, object]:
    return {
        "answers": 160,
        "loop_rate": loop_rate,
        "persian_share": 0.97,
        "mean_words": 23.4,
        "replacement_char_rate": 0.0,
        "exact_match": em,
        "sentiment_accuracy": 0.5,
        "chrf_translation": 31.25,
        "chrf_hafez": None,
        "refusal_rate": 0.125,
    }


def test_chat_evaluation_table_has_a_row_per_label_and_sampling_mode(tmp_path: Path) -> None:
    assert "Not run yet: `" in build_report(tmp_path) and "chat_eval.json" in build_report(tmp_path)
    (tmp_path / "logs").mkdir()
    labels = {
        label: {
            "modes": {
                "greedy": {"sampling": {"temperature": 0.0}, "overall": _chat_figures(0.5, 0.1)},
                "default": {"sampling": {"temperature": 0.3}, "overall": _chat_figures(0.04, None)},
            }
        }
        for label in ("base", "new")
    }
    chat = {"format": "persian-chat-chat-eval/1", "labels": labels}
    (tmp_path / "logs/chat_eval.json").write_text(json.dumps(chat), encoding="utf-8")
    text = build_report(tmp_path)
    assert "| base | greedy | 160 | 50% | 97% | 23.4 | 10% | 50% | 31.2 | - | 12% | 0% |" in text
    assert "| new | default | 160 | 4% | 97% | 23.4 | - | 50% | 31.2 | - | 12% | 0% |" in text
    assert "greedy: temperature=0.0; default: temperature=0.3" in text
    assert "### Knowledge" not in text  # no knowledge part was run
    labels["new"]["knowledge"] = {
        "grounded": {
            "questions": 439,
            "exact_match_with_retrieval": 0.41,
            "exact_match_without_retrieval": 0.12,
            "retrieval_recall": 0.93,
        },
        "unanswerable": {"questions": 80, "dont_know_rate": 0.25},
    }
    (tmp_path / "logs/chat_eval.json").write_text(json.dumps(chat), encoding="utf-8")
    assert "| new | 439 | 41% | 12% | 93% | - | 80 | 25% |" in build_report(tmp_path)
    labels["new"]["knowledge"]["grounded"]["refused_with_passage"] = 0.3
    (tmp_path / "logs/chat_eval.json").write_text(json.dumps(chat), encoding="utf-8")
    assert "| new | 439 | 41% | 12% | 93% | 30% | 80 | 25% |" in build_report(tmp_path)


def test_dataset_mixture_tables_per_source_and_domain(tmp_path: Path) -> None:
    def side(rows: int, tokens: int) -> dict[str, int]:
        return {"rows": rows, "tokens": tokens}

    manifest = {
        "generator": "persian-chat 0.1.0 prepare",
        "sources": [
            {
                "source": "hafez",
                "counts": {"rows": 9, "kept": 8},
                "train": side(6, 350),
                "test": side(2, 90),
            },
            {
                "source": "task:facts",
                "counts": {"rows": 5, "kept": 5},
                "train": side(4, 650),
                "test": side(1, 60),
            },
        ],
        "counts": {"rows": 14, "kept": 13, "train": 10, "test": 3},
        "settings": {"max_share": {"hafez": 0.35}},
        "tokens": {"tokenizer": "gemma3-270m: test", "train": side(10, 1000), "test": side(3, 150)},
        "domains": {
            "train": {"hafez_continue": side(6, 350), "facts_geography": side(4, 650)},
            "test": {"hafez_continue": side(2, 90), "facts_geography": side(1, 60)},
        },
    }
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    text = build_report(tmp_path)
    assert "Tokens counted by gemma3-270m: test" in text and '{"hafez": 0.35}' in text
    assert "| hafez | 6 | 350 | 35.0% | 2 | 90 |" in text
    assert "| task:facts | 4 | 650 | 65.0% | 1 | 60 |" in text
    assert "| facts_geography | 4 | 650 | 65.0% | 1 | 60 |" in text
    assert "| hafez_continue | 6 | 350 | 35.0% | 2 | 90 |" in text


def test_recipe_runs_compare_losses_at_the_same_steps(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()

    def write(name: str, losses: list[float]) -> None:
        lines = [
            json.dumps(
                {
                    "step": 5 * (i + 1),
                    "loss": loss,
                    "tokens_seen": 100 * (i + 1),
                    "elapsed_s": 60.0 * (i + 1),
                }
            )
            for i, loss in enumerate(losses)
        ]
        (logs / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    write("train.log", [4.0] * 10 + [3.0] * 30)
    write("train-lora-lr3e-4-20steps.log", [4.5] * 4)
    text = build_report(tmp_path)
    assert "## Training recipes at full length" in text
    row = next(line for line in text.splitlines() if "train-lora-lr3e-4-20steps.log" in line)
    assert "+0.500 (4 logs)" in row and "| 20 |" in row
    assert "0.75×" in next(line for line in text.splitlines() if line.startswith("| `train.log`"))


def test_the_reference_model_s_skills_carry_their_intervals(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    categories = {
        "arithmetic": {"exact_match": 0.5, "exact_match_n": 46, "sentiment_n": 0},
        "sentiment": {"sentiment_accuracy": 0.8, "sentiment_n": 52, "exact_match_n": 0},
        "translation": {"chrf_translation": 41.25, "chrf_translation_n": 60},
        "cooking_food": {"exact_match_n": 0, "sentiment_n": 0},
    }
    mode = {"sampling": {}, "overall": _chat_figures(0.5, 0.8), "categories": categories}
    chat = {"labels": {"fine-tuned": {"modes": {"default": mode}}}}
    (tmp_path / "logs/chat_eval.json").write_text(json.dumps(chat), encoding="utf-8")
    text = build_report(tmp_path)
    assert "| arithmetic | exact match | 46 | 50% | 36%–64% |" in text
    assert "| sentiment | accuracy | 52 | 80% | 67%–89% |" in text
    assert "| translation | chrF | 60 | 41.2 | - |" in text
    assert "cooking_food" not in text


def test_wilson_interval_matches_the_textbook_values() -> None:
    from persian_chat.benchmarks.report import wilson

    low, high = wilson(0.5, 100)
    assert round(low, 3) == 0.404 and round(high, 3) == 0.596
    assert wilson(0.0, 10)[0] == 0.0 and round(wilson(0.0, 10)[1], 3) == 0.278
    assert wilson(1.0, 0) == (0.0, 1.0)


def test_training_mixture_table_from_the_training_manifest() -> None:
    from persian_chat.benchmarks.report import trained_mixture_table

    assert trained_mixture_table({"hyperparameters": {}}) == []
    manifest = {
        "hyperparameters": {"repeat": {"task:sentiment": 2.5}},
        "tokens_seen": 300,
        "mixture": {
            "task:sentiment": {"rows": 5, "tokens": 100, "target_tokens": 5},
            "reading:reading_refusal": {"rows": 2, "tokens": 300, "target_tokens": 40},
        },
    }
    intro, table = trained_mixture_table(manifest)
    assert '{"task:sentiment": 2.5}' in intro and "computes 400 tokens" in intro
    assert "computed 300 (75% of a pass" in intro
    lines = table.splitlines()
    assert lines[2].startswith("| reading:reading_refusal | 2 | 300 | 75.0% | 40 |")
    assert lines[3].startswith("| task:sentiment | 5 | 100 | 25.0% | 5 |")
