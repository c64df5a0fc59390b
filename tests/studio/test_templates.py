"""Templates: one-click recipes, overridable, starting from the project's own chat model
when it exists; the prepare config a job gets from them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from persian_chat.studio.datasets import prepare_config
from persian_chat.studio.settings import StudioSettings
from persian_chat.studio.templates import BASE_MODEL, TEMPLATES, default_base_model, recipe_for


def test_three_templates_with_persian_titles() -> None:
    assert {"assistant", "support", "poetry"} <= set(TEMPLATES)
    for template in TEMPLATES.values():
        assert template.title and template.description and template.recipe.learning_rate > 0
    assert TEMPLATES["poetry"].recipe.extra_sources == ({"type": "hafez"},)


def test_base_model_is_the_project_model_when_trained(tmp_path: Path) -> None:
    assert default_base_model(tmp_path) == BASE_MODEL
    (tmp_path / "models" / "persian-chat").mkdir(parents=True)
    (tmp_path / "models" / "persian-chat" / "config.json").write_text("{}")
    assert default_base_model(tmp_path) == str((tmp_path / "models/persian-chat").resolve())
    assert recipe_for("support", {}, tmp_path).base_model.endswith("persian-chat")
    assert recipe_for("support", {"base_model": "x"}, tmp_path).base_model == "x"


def test_overrides_are_validated_and_blank_ones_ignored() -> None:
    recipe = recipe_for("support", {"epochs": 2.0, "max_steps": "", "batch_size": None})
    assert recipe.epochs == 2.0 and recipe.max_steps == -1 and recipe.batch_size is None
    with pytest.raises(ValueError, match="learning_rate"):
        recipe_for("support", {"learning_rate": -1.0})


def test_prepare_config_is_toml_with_the_upload_and_the_extras(tmp_path: Path) -> None:
    settings = StudioSettings(home=tmp_path, repo=tmp_path)
    recipe = TEMPLATES["poetry"].recipe
    text = prepare_config(
        settings,
        tmp_path / 'my "faq".csv',
        {"format": "qa", "question": "پرسش, اول", "answer": "پاسخ"},
        tmp_path / "out",
        recipe.system_prompt,
        recipe.extra_sources,
    )
    config = tomllib.loads(text)
    upload, extra = config["sources"]
    assert upload == {
        "path": str(tmp_path / 'my "faq".csv'),
        "type": "qa",
        "question": "پرسش, اول",
        "answer": "پاسخ",
    }
    assert extra == {"type": "hafez"} and config["system_prompt"] == recipe.system_prompt
    assert config["blocklist"].endswith("datasets/sources/blocklist_fa.txt")
