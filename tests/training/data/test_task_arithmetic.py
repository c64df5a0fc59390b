from __future__ import annotations

import re

from persian_chat.normalize import convert_digits
from persian_chat.training.data.records import Example
from persian_chat.training.data.task_arithmetic import (
    ADD,
    MULTIPLY,
    SUBTRACT,
    arithmetic_examples,
    problem_example,
    problem_group,
)

from .split_check import assert_split_by_entity


def numbers_in(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", convert_digits(text, "latin"))]


def test_answers_are_right_and_in_a_sentence() -> None:
    examples = list(arithmetic_examples())
    assert examples == list(arithmetic_examples())
    assert len(examples) == 400 + 400 + 19 * 19  # multiplication: every pair of 2..20
    for example in examples:
        _, name, a_text, b_text = example.origin.split(":")
        a, b = int(a_text), int(b_text)
        assert sorted(numbers_in(example.conversation["messages"][0]["content"])) == sorted((a, b))
        result = {"add": a + b, "subtract": a - b, "multiply": a * b}[name]
        assert example.expected == convert_digits(str(result), "persian")
        answer = example.conversation["messages"][1]["content"]
        assert example.expected in answer and answer != example.expected
        assert result >= 0


def test_operand_order_does_not_cross_the_split() -> None:
    assert problem_group(MULTIPLY, 3, 7) == problem_group(MULTIPLY, 7, 3)
    assert problem_group(ADD, 3, 7) == problem_group(ADD, 7, 3)
    assert problem_group(SUBTRACT, 9, 2) != problem_group(SUBTRACT, 2, 9)
    assert problem_example(MULTIPLY, 7, 3).expected == "۲۱"

    def unordered(example: Example) -> str:
        _, op, a, b = example.origin.split(":")
        return f"{op}:{sorted((a, b)) if op != 'subtract' else (a, b)}"

    assert_split_by_entity(list(arithmetic_examples()), unordered)
