"""One-click recipes: the base model, system prompt, extra data and hyperparameters a
beginner should not have to choose. "Advanced" settings override any field.

The numbers follow the reference run's measurements (README, "The recipe"): a full
fine-tune at a small learning rate on packed batches, with the vocabulary trimmed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONVERSATIONS = {"type": "chat", "path": "datasets/sources/conversations"}


class Recipe(BaseModel):
    """Everything a studio job passes to prepare, train, evaluate and export."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    base_model: str = "gemma3-270m"  # the studio starts from default_base_model()
    system_prompt: str = ""  # empty: prepare's default
    extra_sources: tuple[dict[str, str], ...] = ()  # prepare sources added to the upload
    learning_rate: float = Field(2e-5, gt=0, le=1)
    epochs: float = Field(3.0, gt=0, le=100)
    max_steps: int = Field(-1, ge=-1)  # > 0 overrides epochs
    batch_size: int | None = Field(None, ge=1, le=256)  # None: from free memory
    max_length: int = Field(512, ge=16, le=4096)
    save_steps: int = Field(50, ge=1)
    logging_steps: int = Field(5, ge=1)
    trim_vocab: bool = True
    packing: bool = True
    eval_examples: int = Field(100, ge=1)


class Template(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    description: str
    recipe: Recipe


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            name="assistant",
            title="دستیار روزمره",
            description="پاسخ‌های کوتاه و مؤدبانه به پرسش‌های روزمره؛ داده‌های شما با گفتگوهای "
            "نوشته‌شده برای این پروژه آمیخته می‌شود تا مدل فارسی روزمره را از یاد نبرد.",
            # the project's conversations add ~540k tokens: one pass is ~1 hour on 2 cores
            recipe=Recipe(extra_sources=(CONVERSATIONS,), epochs=1.0),
        ),
        Template(
            name="support",
            title="پشتیبانی مشتری از روی پرسش‌های متداول",
            description="از پرونده‌ای با ستون پرسش و ستون پاسخ، ربات پشتیبانی می‌سازد که مانند "
            "پاسخ‌های شما جواب دهد؛ چند دور آموزش تا پاسخ‌ها را به خاطر بسپارد.",
            recipe=Recipe(
                system_prompt="تو پشتیبان مشتریان هستی. کوتاه، دقیق و مؤدبانه پاسخ بده و اگر "
                "پاسخ را نمی‌دانی، بگو که پرسش را به همکاران می‌رسانی.",
                epochs=4.0,
                learning_rate=3e-5,
            ),
        ),
        Template(
            name="poetry",
            title="همراه شعر و حافظ",
            description="گفتگو دربارهٔ شعر، با دیوان حافظ در کنار داده‌های شما؛ برای فال و شرح غزل.",
            recipe=Recipe(
                system_prompt="تو همراهی آشنا با شعر فارسی و دیوان حافظ هستی. به زبان ساده و "
                "گرم پاسخ بده.",
                extra_sources=({"type": "hafez"},),
                epochs=2.0,
            ),
        ),
    )
}


PROJECT_MODEL = Path("models/persian-chat")  # `make demo`'s fine-tuned Persian chat model
BASE_MODEL = "gemma3-270m"


def default_base_model(repo: Path) -> str:
    """The project's own Persian chat model when it has been trained here (it already
    chats in Persian, so a small upload teaches it a task without unlearning the rest),
    else Gemma-3-270M from PyPI."""
    project = repo / PROJECT_MODEL
    return str(project.resolve()) if (project / "config.json").is_file() else BASE_MODEL


def recipe_for(template: str, overrides: dict[str, Any], repo: Path | None = None) -> Recipe:
    """The template's recipe with the advanced settings the user changed (validated)."""
    base = TEMPLATES[template].recipe.model_dump()
    if repo is not None:
        base["base_model"] = default_base_model(repo)
    changed = {k: v for k, v in overrides.items() if v not in (None, "")}
    return Recipe.model_validate({**base, **changed})
