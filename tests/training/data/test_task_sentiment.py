from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from persian_chat.errors import InputError
from persian_chat.training.data.records import Example
from persian_chat.training.data.sources import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENT_PROMPTS
from persian_chat.training.data.task_sentiment import sentiment_examples

from .split_check import assert_split_by_entity


@pytest.fixture(scope="module")
def examples(repo: Path) -> list[Example]:
    return list(sentiment_examples(repo / "datasets/sources/tables"))


def test_balanced_labels_and_shared_prompts(examples: list[Example]) -> None:
    labels = Counter(e.expected for e in examples)
    assert set(labels) == {POSITIVE, NEGATIVE, NEUTRAL}
    assert min(labels.values()) >= 150
    assert all(e.conversation["messages"][1]["content"] == e.expected for e in examples)
    used = Counter(
        next(
            p
            for p in SENTIMENT_PROMPTS
            if p.split("«")[0] in e.conversation["messages"][0]["content"]
        )
        for e in examples
    )
    assert len(used) == len(SENTIMENT_PROMPTS) >= 4


def test_output_is_deterministic(repo: Path, examples: list[Example]) -> None:
    assert list(sentiment_examples(repo / "datasets/sources/tables")) == examples


def test_a_review_is_never_on_both_sides(examples: list[Example]) -> None:
    assert_split_by_entity(
        examples, lambda e: e.conversation["messages"][0]["content"].split("«")[1]
    )


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "reviews.tsv").write_text("text\tlabel\nعالی بود\tخوب\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"reviews\.tsv:2: label 'خوب' is not one of"):
        list(sentiment_examples(tmp_path))
