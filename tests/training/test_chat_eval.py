from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from persian_chat.cli import main
from persian_chat.errors import UserError
from persian_chat.server.engine.sampling import DEFAULT_SAMPLING
from persian_chat.training.chat_eval import ChatEvalConfig, merge_results, run_chat_eval
from persian_chat.training.chat_prompts import parse_row

from .chat_rows import ROWS, write_dataset

CATEGORIES = sorted({parse_row(r, i).category for i, r in enumerate(ROWS)})
HEAD = "# Worst 3 test examples by loss (perplexity part)"


@pytest.fixture(scope="module")
def evaluated(
    tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    work = tmp_path_factory.mktemp("chat-eval")
    data = write_dataset(work / "data")
    logs = work / "logs"
    logs.mkdir()
    (logs / "errors.txt").write_text(HEAD + "\n", encoding="utf-8")
    config = ChatEvalConfig(
        tiny_served_dir, data, logs, "base", prompts=100, max_tokens=10, threads=1, max_batch=4
    )
    return work, run_chat_eval(config)


def test_results_cover_every_category_and_both_sampling_modes(
    evaluated: tuple[Path, dict[str, Any]],
) -> None:
    work, entry = evaluated
    saved = json.loads((work / "logs/chat_eval.json").read_text(encoding="utf-8"))
    assert saved["format"] == "persian-chat-chat-eval/1"
    assert saved["labels"] == {"base": entry}
    assert entry["prompts"]["total"] == len(ROWS)
    assert sorted(entry["prompts"]["categories"]) == CATEGORIES
    assert list(entry["modes"]) == ["greedy", "default"]
    for mode in entry["modes"].values():
        assert sorted(mode["categories"]) == CATEGORIES
        overall = mode["overall"]
        assert overall["answers"] == len(ROWS)
        assert 0 <= overall["loop_rate"] <= 1 and overall["errors"] == 0
        assert overall["exact_match_n"] == 4 and overall["sentiment_n"] == 2
        assert overall["chrf_translation_n"] == 2 and overall["chrf_hafez_n"] == 2
        assert overall["mean_words"] is not None
    default = {k: v for k, v in dataclasses.asdict(DEFAULT_SAMPLING).items() if k != "seed"}
    assert entry["modes"]["default"]["sampling"] == default  # the server's own defaults
    assert entry["modes"]["greedy"]["sampling"]["temperature"] == 0
    assert 0 < entry["generated_tokens"] <= 2 * len(ROWS) * 10
    assert entry["weights"] == "int8"


def test_a_weight_format_the_directory_lacks_is_named(
    tiny_served_dir: Path, tmp_path: Path
) -> None:
    data = write_dataset(tmp_path / "data")
    config = ChatEvalConfig(tiny_served_dir, data, tmp_path, "int4", threads=1, weights="int4")
    with pytest.raises(UserError, match=r"--chat-weights int4: .* carries int8"):
        run_chat_eval(config)


def test_worst_answers_get_their_own_section_of_errors_txt(
    evaluated: tuple[Path, dict[str, Any]],
) -> None:
    work, _ = evaluated
    text = (work / "logs/errors.txt").read_text(encoding="utf-8")
    assert text.startswith(HEAD)  # the perplexity part stays
    assert "==> chat evaluation, label base <==" in text
    for mode in ("greedy", "default"):
        for category in CATEGORIES:
            assert text.count(f"## {mode} · {category} · ") == 1


def test_cli_adds_a_label_beside_the_others_with_the_same_scores(
    evaluated: tuple[Path, dict[str, Any]], tiny_served_dir: Path
) -> None:
    work, entry = evaluated
    code = main(
        [
            "evaluate",
            "--chat-only",
            "--label",
            "new",
            "--served-dir",
            str(tiny_served_dir),
            "--data-dir",
            str(work / "data"),
            "--logs-dir",
            str(work / "logs"),
            "--threads",
            "1",
            "--chat-max-tokens",
            "10",
            "--chat-prompts",
            "100",
            "--max-batch",
            "4",
            "--sampling-mode",
            "rp:repetition_penalty=1.2,top_k=5",
            "--no-knowledge",  # as the fixture's run: the same prompts, so the same answers
        ]
    )
    assert code == 0
    labels = json.loads((work / "logs/chat_eval.json").read_text(encoding="utf-8"))["labels"]
    assert list(labels) == ["base", "new"]
    assert labels["base"] == entry
    new = labels["new"]["modes"]
    assert {k: new[k] for k in ("greedy", "default")} == entry["modes"]  # fixed seeds
    assert new["rp"]["sampling"]["repetition_penalty"] == 1.2
    assert new["rp"]["sampling"]["top_k"] == 5
    assert sorted(new["rp"]["categories"]) == CATEGORIES
    text = (work / "logs/errors.txt").read_text(encoding="utf-8")
    assert "label base <==" in text and "label new <==" in text


def test_cli_needs_the_served_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--served-dir", str(tmp_path / "absent"), "--logs-dir", str(tmp_path)])
    assert code == 2
    assert "persian-chat export" in capsys.readouterr().err


def test_results_file_of_another_kind_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "chat_eval.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(UserError, match="move it away"):
        merge_results(path, "new", {})
    assert path.read_text(encoding="utf-8") == "[]"


def test_bad_labels_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="name"):
        ChatEvalConfig(tmp_path, tmp_path, tmp_path, "two words")


def test_the_chat_evaluation_imports_no_torch() -> None:
    code = (
        "import sys, persian_chat.training.chat_eval\n"
        "print([m for m in ('torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
