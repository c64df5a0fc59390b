from __future__ import annotations

from persian_chat.persian_numbers import number_to_words, persian_digits
from persian_chat.training.data.task_numbers import (
    BANDS,
    number_examples,
    numbers_examples,
    sample_numbers,
)

from .split_check import assert_split_by_entity


def test_both_directions_for_a_number() -> None:
    to_words, to_digits = number_examples(1234)
    assert to_words.expected == "هزار و دویست و سی و چهار"
    assert "۱۲۳۴" in to_words.conversation["messages"][0]["content"]
    assert to_digits.expected == "۱۲۳۴"
    assert "هزار و دویست و سی و چهار" in to_digits.conversation["messages"][0]["content"]
    for example in (to_words, to_digits):
        assert (
            example.expected and example.expected in example.conversation["messages"][1]["content"]
        )
        assert example.group == "number:1234"


def test_sample_spans_every_size_and_splits_by_number() -> None:
    numbers = sample_numbers()
    assert numbers == sample_numbers()
    for low, high in BANDS:
        assert sum(low <= n < high for n in numbers) == len(numbers) // len(BANDS)
    examples = list(numbers_examples())
    assert_split_by_entity(examples, lambda e: e.origin.split(":")[1])
    for example in examples:
        n = int(example.origin.split(":")[1])
        assert example.expected in (number_to_words(n), persian_digits(n))
