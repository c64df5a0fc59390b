from __future__ import annotations

import json
from pathlib import Path

import pytest

from persian_chat.errors import UserError
from persian_chat.training.mix import Tag, mix_rows, mix_table, parse_factor, read_tags

SENTIMENT = Tag("task:sentiment", "sentiment")
PASSAGE = Tag("reading", "reading_passages")
REFUSAL = Tag("reading", "reading_refusal")
CHAT = Tag("chat:conversations", "cooking_food")


def test_whole_factors_repeat_and_zero_drops() -> None:
    rows, tags = mix_rows(
        ["s", "p", "r", "c"],
        [SENTIMENT, PASSAGE, REFUSAL, CHAT],
        {"task:sentiment": 3, "reading": 0},
        1,
    )
    assert rows == ["s", "s", "s", "c"]
    assert tags == [SENTIMENT] * 3 + [CHAT]


def test_a_domain_factor_wins_over_its_sources() -> None:
    factors = {"reading": 0.0, "reading_passages": 2.0}
    rows, _ = mix_rows(["p", "r"], [PASSAGE, REFUSAL], factors, 1)
    assert rows == ["p", "p"]


def test_a_fractional_factor_keeps_that_share_seeded() -> None:
    rows = list(range(2000))
    tags = [CHAT] * 2000
    kept, _ = mix_rows(rows, tags, {CHAT.source: 0.5}, 7)
    assert 900 < len(kept) < 1100
    assert kept == mix_rows(rows, tags, {CHAT.source: 0.5}, 7)[0]
    assert kept != mix_rows(rows, tags, {CHAT.source: 0.5}, 8)[0]
    more, _ = mix_rows(rows, tags, {CHAT.source: 1.5}, 7)
    assert 2900 < len(more) < 3100 and set(more) == set(rows)


def test_unknown_names_and_bad_options_are_clear_errors() -> None:
    with pytest.raises(UserError, match="task:sentimnt"):
        mix_rows(["s"], [SENTIMENT], {"task:sentimnt": 2}, 1)
    with pytest.raises(UserError, match="no training rows"):
        mix_rows(["s"], [SENTIMENT], {"sentiment": 0}, 1)
    assert parse_factor("task:sentiment=2.5") == ("task:sentiment", 2.5)
    for bad in ("sentiment", "=2", "hafez=-1", "hafez=two"):
        with pytest.raises(UserError, match="NAME=FACTOR"):
            parse_factor(bad)


def test_table_counts_rows_and_tokens_per_source_and_reading_domain() -> None:
    table = mix_table([SENTIMENT, SENTIMENT, PASSAGE, REFUSAL], [10, 12, 300, 280], [1, 1, 9, 14])
    assert table == {
        "reading:reading_passages": {"rows": 1, "tokens": 300, "target_tokens": 9},
        "reading:reading_refusal": {"rows": 1, "tokens": 280, "target_tokens": 14},
        "task:sentiment": {"rows": 2, "tokens": 22, "target_tokens": 2},
    }


def test_tags_follow_the_files_records(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    records = [{"messages": [], "source": "hafez", "domain": "hafez"}, {"messages": []}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    assert read_tags(path) == [Tag("hafez", "hafez"), Tag("", "")]
