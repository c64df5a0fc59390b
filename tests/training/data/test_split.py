from __future__ import annotations

import pytest

from persian_chat.training.data.split import GroupUnion, is_test


def test_split_is_stable_and_close_to_the_ratio() -> None:
    groups = [f"گروه {i}" for i in range(5000)]
    first = [is_test(g, 0.1, seed=13) for g in groups]
    assert first == [is_test(g, 0.1, seed=13) for g in groups]
    assert 0.08 < sum(first) / len(first) < 0.12


def test_seed_changes_the_assignment() -> None:
    groups = [f"g{i}" for i in range(500)]
    assert [is_test(g, 0.2, 1) for g in groups] != [is_test(g, 0.2, 2) for g in groups]


def test_zero_ratio_puts_everything_in_train() -> None:
    assert not any(is_test(f"g{i}", 0.0, 7) for i in range(200))


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_bad_ratio_is_rejected(ratio: float) -> None:
    with pytest.raises(ValueError, match="test_ratio"):
        is_test("g", ratio, 1)


def test_groups_sharing_a_question_are_joined_under_the_first_seen() -> None:
    groups = GroupUnion()
    groups.link("پایتخت ترکیه کجاست", "پایتخت ترکیه کجاست")  # a hand-written row, read first
    groups.link("country:ترکیه", "آنکارا پایتخت کدام کشور است")
    groups.link("country:ترکیه", "پایتخت ترکیه کجاست")  # the same question from a generator
    groups.link("country:ژاپن", "پایتخت ژاپن کجاست")
    assert groups.root("country:ترکیه") == "پایتخت ترکیه کجاست"
    assert groups.root("آنکارا پایتخت کدام کشور است") == "پایتخت ترکیه کجاست"
    assert groups.root("country:ژاپن") == "country:ژاپن"
