from __future__ import annotations

from persian_chat.training.data.mixture import MixRow, over_share, shares, totals


def rows(source: str, sizes: list[int], domain: str = "d") -> list[MixRow]:
    return [MixRow(source, domain, n, f"{source}:{i}") for i, n in enumerate(sizes)]


def share_after(mix: list[MixRow], dropped: set[int], source: str) -> float:
    kept = [row for i, row in enumerate(mix) if i not in dropped]
    return sum(r.tokens for r in kept if r.source == source) / sum(r.tokens for r in kept)


def test_cap_drops_the_longest_rows_first_until_the_share_holds() -> None:
    mix = rows("hafez", [50, 400, 60, 300, 40]) + rows("chat", [100] * 6)
    dropped = over_share(mix, {"hafez": 0.35})
    assert share_after(mix, dropped, "hafez") <= 0.35
    # budget 0.35/0.65 × 600 = 323 tokens: the 400 and 300 rows go, the short ones stay
    assert sorted(mix[i].tokens for i in dropped) == [300, 400]
    assert dropped == over_share(mix, {"hafez": 0.35})


def test_no_drop_when_under_the_cap_or_uncapped() -> None:
    mix = rows("hafez", [10, 10]) + rows("chat", [100] * 3)
    assert over_share(mix, {"hafez": 0.35}) == set()
    assert over_share(mix, {"task:facts": 0.1}) == set()
    assert over_share(rows("hafez", [500]) + rows("chat", [1]), {"hafez": 1.0}) == set()


def test_two_caps_both_hold() -> None:
    mix = rows("a", [100] * 10) + rows("b", [100] * 10) + rows("c", [100] * 5)
    dropped = over_share(mix, {"a": 0.3, "b": 0.3})
    assert share_after(mix, dropped, "a") <= 0.3 and share_after(mix, dropped, "b") <= 0.3
    assert all(mix[i].source in ("a", "b") for i in dropped)


def test_totals_and_shares() -> None:
    mix = rows("hafez", [30, 10], "hafez_continue") + rows("chat", [60], "cooking_food")
    assert totals(mix, lambda r: r.domain) == {
        "cooking_food": {"rows": 1, "tokens": 60},
        "hafez_continue": {"rows": 2, "tokens": 40},
    }
    assert shares(mix) == {"chat": 0.6, "hafez": 0.4}
