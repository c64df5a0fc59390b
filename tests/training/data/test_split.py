from __future__ import annotations

import pytest

from persian_chat.training.data.split import is_test


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
