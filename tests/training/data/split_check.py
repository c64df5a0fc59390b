"""Shared check for the task generators: split by group, then look at the entity each example
is about (found independently of its group) and require every entity on one side only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from persian_chat.training.data.records import Example
from persian_chat.training.data.split import is_test

TEST_RATIO = 0.3


def assert_split_by_entity(
    examples: Iterable[Example], entity_of: Callable[[Example], str]
) -> None:
    sides: dict[str, set[bool]] = defaultdict(set)
    for example in examples:
        assert example.group, example.origin
        sides[entity_of(example)].add(is_test(example.group, TEST_RATIO, seed=13))
    both = [entity for entity, side in sides.items() if len(side) > 1]
    assert not both, f"on both sides of the split: {both[:5]}"
    assigned = {next(iter(side)) for side in sides.values()}
    assert assigned == {True, False}, "the split must put entities on both sides"
