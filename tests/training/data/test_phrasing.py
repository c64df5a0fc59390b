from __future__ import annotations

import pytest

from persian_chat.training.data.phrasing import pick, picks

OPTIONS = ("الف", "ب", "پ", "ت", "ث")


def test_pick_is_stable_and_varies_with_the_key() -> None:
    assert pick(OPTIONS, "کلید") == pick(OPTIONS, "کلید")
    assert len({pick(OPTIONS, f"کلید {i}") for i in range(50)}) == len(OPTIONS)


def test_picks_are_distinct_and_stable() -> None:
    for i in range(30):
        chosen = picks(OPTIONS, f"k{i}", 3)
        assert len(set(chosen)) == 3
        assert chosen == picks(OPTIONS, f"k{i}", 3)
    assert picks(OPTIONS, "k", 1) == [pick(OPTIONS, "k")]


@pytest.mark.parametrize("count", [0, 6])
def test_picks_refuses_impossible_counts(count: int) -> None:
    with pytest.raises(ValueError, match="cannot pick"):
        picks(OPTIONS, "k", count)
