from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from persian_chat.errors import InputError
from persian_chat.training.chat_prompts import (
    categorize,
    is_hafez_continuation,
    load_prompts,
    parse_row,
    select_prompts,
)
from persian_chat.training.data.hafez_corpus import (
    CONTINUE_PROMPTS,
    INTERPRET_PROMPTS,
    RECITE_OPENING_PROMPTS,
)

from .chat_rows import ROWS, row, write_dataset

LINE = "الا یا ایها الساقی ادر کاسا و ناولها"


@pytest.mark.parametrize("template", CONTINUE_PROMPTS)
def test_hafez_continuations_are_recognised_raw_and_normalized(
    template: str, normalizer: Any
) -> None:
    text = template.format(line=LINE)
    assert is_hafez_continuation(text)
    assert is_hafez_continuation(normalizer.normalize(text))  # as test.jsonl holds it


@pytest.mark.parametrize("template", INTERPRET_PROMPTS[:1] + RECITE_OPENING_PROMPTS)
def test_other_hafez_prompts_are_not_continuations(template: str) -> None:
    assert not is_hafez_continuation(template.format(poem=LINE, line=LINE))


def test_categories_come_from_the_domain() -> None:
    continuation = CONTINUE_PROMPTS[0].format(line=LINE)
    assert categorize("hafez", continuation) == "hafez_continuation"
    assert categorize(None, continuation) == "hafez_continuation"  # rows before domains
    assert categorize("hafez", "فال حافظ") == "hafez"
    assert categorize("cooking_food", "شام چه بپزم؟") == "cooking_food"
    assert categorize(None, "یک غزل بخوان") == "hafez"
    assert categorize(None, "سلام") == "general"


def test_parse_row_keeps_the_conversation_up_to_the_last_user_turn() -> None:
    prompt = parse_row(ROWS[-1], 7)
    assert prompt.category == "cooking_food" and prompt.line == 7
    assert [m["role"] for m in prompt.messages] == ["user", "assistant", "user"]
    assert prompt.user == "و اگر عدس نداشته باشم؟"
    assert prompt.reference == "املت هم سریع و خوب است."
    assert prompt.task is None


def test_tasks() -> None:
    tasks = {p.category: p.task for p in (parse_row(r, i) for i, r in enumerate(ROWS))}
    assert tasks["facts_geography"] == "exact_match"
    assert tasks["arithmetic"] == tasks["dates_numbers"] == "exact_match"
    assert tasks["sentiment"] == "sentiment"
    assert tasks["translation"] == "chrf_translation"
    assert tasks["hafez_continuation"] == "chrf_hafez"
    assert tasks["hafez"] is None and tasks["greetings_smalltalk"] is None
    assert parse_row(row("facts_geography", "q", "a", ["x", "y"]), 1).expected == ["x", "y"]


def test_load_prompts_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    bad = json.dumps(row("facts_geography", "q", "a", 3))
    path.write_text(json.dumps(ROWS[0]) + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"test\.jsonl:2: 'expected'"):
        load_prompts(path)


def many_rows() -> list[dict[str, Any]]:
    """Unequal categories: 30 greetings, 5 facts, 1 sentiment row."""
    rows = [row("greetings_smalltalk", f"سلام شماره {i}", "سلام!") for i in range(30)]
    rows += [row("facts_geography", f"پرسش {i}", "پاسخ", f"پاسخ {i}") for i in range(5)]
    return [*rows, row("sentiment", "نظر", "مثبت", "مثبت")]


def test_selection_is_stratified_deterministic_and_covers_every_category(
    tmp_path: Path,
) -> None:
    prompts = load_prompts(write_dataset(tmp_path, many_rows()) / "test.jsonl")
    chosen = select_prompts(prompts, 12, seed=13)
    counts = Counter(p.category for p in chosen)
    assert counts == {"greetings_smalltalk": 6, "facts_geography": 5, "sentiment": 1}
    assert select_prompts(prompts, 12, seed=13) == chosen
    # the file's row order does not matter, the seed does
    shuffled = load_prompts(write_dataset(tmp_path / "b", many_rows()[::-1]) / "test.jsonl")
    key = {(p.category, p.user) for p in chosen}
    assert {(p.category, p.user) for p in select_prompts(shuffled, 12, seed=13)} == key
    assert {(p.category, p.user) for p in select_prompts(prompts, 12, seed=14)} != key


def test_selection_keeps_every_category_even_when_asked_for_fewer() -> None:
    prompts = [parse_row(r, i) for i, r in enumerate(ROWS, start=1)]
    categories = {p.category for p in prompts}
    chosen = select_prompts(prompts, 3, seed=0)
    assert {p.category for p in chosen} == categories
    assert len(chosen) == len(categories)
    assert len(select_prompts(prompts, 1000, seed=0)) == len(prompts)


def test_task_scored_categories_are_topped_up_to_scored_min(tmp_path: Path) -> None:
    rows = [row("greetings_smalltalk", f"سلام شماره {i}", "سلام!") for i in range(30)]
    rows += [row("facts_geography", f"پرسش {i}", "پاسخ", f"پاسخ {i}") for i in range(20)]
    rows += [row("sentiment", f"نظر {i}", "مثبت", "مثبت") for i in range(3)]
    prompts = load_prompts(write_dataset(tmp_path, rows) / "test.jsonl")
    equal = select_prompts(prompts, 12, seed=13)
    topped = select_prompts(prompts, 12, seed=13, scored_min=10)
    counts = Counter(p.category for p in topped)
    # unscored greetings keep their equal share; scored ones get 10, or all they have
    assert counts == {"greetings_smalltalk": 4, "facts_geography": 10, "sentiment": 3}
    assert set(map(id, equal)) <= set(map(id, topped))
