from __future__ import annotations

import json
from pathlib import Path

import pytest

from persian_chat.benchmarks import common, train_recipes

from ..conftest import TinyGemma

RECIPES = "lora-2e-4-padded,full-1e-4-packed-freeze1-nodet,lora-1e-3-packed-2pass"


def test_recipes_are_trained_on_a_budget_and_scored(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    train_recipes.main(
        [
            "--base-model",
            str(tiny_gemma.model_dir),
            "--data-dir",
            str(tiny_dataset),
            "--models-dir",
            str(tmp_path / "models"),
            "--recipes",
            RECIPES,
            "--minutes",
            "0.03",
            "--batch-size",
            "2",
            "--max-length",
            "128",
            "--eval-examples",
            "4",
            "--threads",
            "1",
        ]
    )
    result = json.loads((tmp_path / "train_recipes.json").read_text())
    runs = {r["recipe"]: r for r in result["runs"]}
    assert set(runs) == set(RECIPES.split(","))
    for run in runs.values():
        assert run["steps"] >= 1 and run["held_out_loss"] > 0
    frozen = runs["full-1e-4-packed-freeze1-nodet"]
    assert frozen["packing"] is True and frozen["freeze_layers"] == 1
    assert frozen["trainable_parameters"] > 0 and frozen["tokens_per_sec"] > 0
    assert (tmp_path / "train_recipes.png").is_file()
    # two passes: the planned steps over a subset half as large as one pass would need
    twice, batch_size = runs["lora-1e-3-packed-2pass"], 2
    assert twice["passes"] == 2
    everything = frozen["examples_used"]
    one_pass = twice["planned_steps"] * batch_size
    assert twice["examples_used"] == min(one_pass // 2, everything)


def test_a_recipe_name_spells_out_its_settings() -> None:
    assert train_recipes.parse_recipe("full-2e-5-packed-2pass") == {
        "lora": False,
        "learning_rate": 2e-5,
        "packing": True,
        "passes": 2,
    }
    assert train_recipes.parse_recipe("lora-3e-4-padded")["passes"] == 1
    for name in train_recipes.DEFAULT_RECIPES.split(","):
        train_recipes.parse_recipe(name)
    with pytest.raises(SystemExit, match="lora-fast-packed"):
        train_recipes.parse_recipe("lora-fast-packed")


def test_throughput_switches_follow_the_recipe() -> None:
    assert train_recipes.parse_recipe("full-2e-5-packed-freeze6-nodet-t1") == {
        "lora": False,
        "learning_rate": 2e-5,
        "packing": True,
        "passes": 1,
        "freeze_embeddings": True,
        "freeze_layers": 6,
        "deterministic": False,
        "threads": 1,
    }
    assert train_recipes.parse_recipe("full-2e-5-packed-freeze-emb-compile") == {
        "lora": False,
        "learning_rate": 2e-5,
        "packing": True,
        "passes": 1,
        "freeze_embeddings": True,
        "compile": True,
    }
    for name in train_recipes.THROUGHPUT_RECIPES.split(","):
        train_recipes.parse_recipe(name)
    with pytest.raises(SystemExit, match="full-2e-5-packed-fast"):
        train_recipes.parse_recipe("full-2e-5-packed-fast")
