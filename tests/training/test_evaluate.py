from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from persian_chat.errors import UserError
from persian_chat.training.evaluate import FIXED_PROMPTS, evaluate, parse_mode
from persian_chat.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("trained")
    train(
        TrainConfig(
            base_model=str(tiny_gpt2_dir),
            data_dir=tiny_dataset,
            output_dir=out / "model",
            logs_dir=out / "logs",
            max_steps=30,
            batch_size=4,
            max_length=128,
            learning_rate=5e-3,
            warmup_ratio=0.0,
            save_steps=100,
            threads=1,
        )
    )
    return out / "model"


def test_evaluate_writes_comparable_scores_and_errors(
    trained: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    result = evaluate(
        trained, tiny_dataset, tmp_path, Path("models"), 128, worst=3, max_new_tokens=8
    )
    saved = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert saved == result
    tuned, base = result["fine_tuned"], result["base"]
    assert tuned["target_tokens"] == base["target_tokens"] > 0
    assert tuned["perplexity"] < base["perplexity"]  # fine-tuning helped on held-out data
    assert result["perplexity_ratio_tuned_over_base"] < 1
    from persian_chat.checksums import sha256_file

    assert result["dataset"]["test.jsonl"] == sha256_file(tiny_dataset / "test.jsonl")
    assert result["model_manifest_sha256"] == sha256_file(trained / "training_manifest.json")
    errors = (tmp_path / "errors.txt").read_text(encoding="utf-8")
    assert errors.count("reference:") == 3 and errors.count("model (greedy") == 3
    for prompt in FIXED_PROMPTS:
        assert f"prompt: {prompt}" in errors


def test_evaluate_refuses_a_different_dataset(
    trained: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_dataset, other)
    lines = (other / "train.jsonl").read_text(encoding="utf-8").splitlines()[:-1]
    (other / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    from persian_chat.checksums import format_sha256sums, sha256_file

    digests = {n: sha256_file(other / n) for n in ("train.jsonl", "test.jsonl")}
    (other / "SHA256SUMS").write_text(format_sha256sums(digests), encoding="utf-8")
    with pytest.raises(UserError, match="differs from the one"):
        evaluate(trained, other, tmp_path, Path("models"), 128, 1, 4)


def test_evaluate_needs_a_complete_model_dir(
    trained: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"no tokenizer\.json"):
        evaluate(broken, tiny_dataset, tmp_path, Path("models"), 128, 1, 4)
    with pytest.raises(UserError, match="no model here"):
        evaluate(tmp_path / "absent", tiny_dataset, tmp_path, Path("models"), 128, 1, 4)


def test_sampling_modes_parse_from_the_command_line() -> None:
    assert parse_mode("fp:frequency_penalty=0.5,no_repeat_ngram_size=3") == (
        "fp",
        {"frequency_penalty": 0.5, "no_repeat_ngram_size": 3},
    )
    assert parse_mode("plain") == ("plain", {})
    with pytest.raises(UserError, match="NAME:FIELD=VALUE"):
        parse_mode("fp:frequency_penalty")
    with pytest.raises(UserError, match="not a number"):
        parse_mode("fp:top_k=five")
