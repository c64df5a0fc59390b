from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.normalize import PersianNormalizer
from persian_chat.training.data.cleaning import Thresholds, clean_conversation, quality_problem
from persian_chat.training.data.records import Example
from persian_chat.training.data.tables import read_table
from persian_chat.training.data.task_translation import translation_examples

from .split_check import assert_split_by_entity


@pytest.fixture(scope="module")
def examples(repo: Path) -> list[Example]:
    return list(translation_examples(repo / "datasets/sources/tables"))


def test_both_directions_of_every_pair(repo: Path, examples: list[Example]) -> None:
    pairs = read_table(repo / "datasets/sources/tables/translations.tsv", ("english", "persian"))
    assert len(pairs) >= 300
    assert len(examples) == 2 * len(pairs)
    answers = {e.conversation["messages"][1]["content"] for e in examples}
    for pair in pairs:
        assert {pair.cells["english"], pair.cells["persian"]} <= answers  # the reference
    assert {e.domain for e in examples} == {"translation"}
    assert list(translation_examples(repo / "datasets/sources/tables")) == examples  # stable
    assert all(e.expected is None for e in examples)  # scored by chrF against the answer


def test_a_sentence_pair_is_never_on_both_sides(examples: list[Example]) -> None:
    # The entity: the English sentence, found in either the question or the answer.
    def english(example: Example) -> str:
        user, answer = (m["content"] for m in example.conversation["messages"])
        return answer if example.origin.endswith("to_english") else user.split("«")[1]

    assert_split_by_entity(examples, english)


def test_no_translation_is_dropped_as_not_persian(
    examples: list[Example], normalizer: PersianNormalizer
) -> None:
    problems = {
        e.origin: quality_problem(clean_conversation(e.conversation, normalizer), Thresholds())
        for e in examples
    }
    assert {origin: p for origin, p in problems.items() if p} == {}


def test_english_questions_keep_their_question_mark(
    examples: list[Example], normalizer: PersianNormalizer
) -> None:
    english = [
        e.conversation["messages"][1]["content"]
        for e in examples
        if e.origin.endswith("to_english")
    ]
    questions = [normalizer.normalize(text) for text in english if text.endswith("?")]
    assert questions and not [q for q in questions if q.endswith(" ?")]
