from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from persian_chat.chat_format import Message
from persian_chat.knowledge import PASSAGES_HEADING, QUESTION_HEADING, Passage, passages_block
from persian_chat.retrieval import KnowledgeBase
from persian_chat.training.data.knowledge_questions import evaluated_passages
from persian_chat.training.data.records import single_turn
from persian_chat.training.data.task_reading import (
    REFUSAL_EXPECTED,
    REFUSALS,
    WITHOUT_GOLD_PERCENT,
    Reader,
    follow_up,
    takes_conversation,
)

PASSAGES = [
    Passage("country:ژاپن", "ژاپن", "پایتخت ژاپن توکیو است. واحد پول ژاپن ین است.", "c", "g"),
    Passage("country:چین", "چین", "پایتخت چین پکن است. واحد پول چین یوان است.", "c", "g"),
    Passage("country:کره", "کره جنوبی", "پایتخت کره جنوبی سئول است.", "c", "g"),
    Passage("country:هند", "هند", "پایتخت هند دهلی‌نو است. واحد پول هند روپیه است.", "c", "g"),
]


@pytest.fixture
def reader() -> Reader:
    base = KnowledgeBase()
    base.add(PASSAGES)
    return Reader({p.id: p for p in PASSAGES}, base, lambda text: len(text.split()), 10_000)


def question(text: str, answer: str) -> list[Message]:
    return [{"role": "system", "content": "دستیار"}, *single_turn(text, answer)["messages"]]


def shown_titles(content: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in content.splitlines() if line.startswith("[")]


def test_rows_carry_the_gold_passage_among_near_misses_or_refuse(reader: Reader) -> None:
    answered = refused = 0
    for index in range(200):
        key = f"countries.tsv:{index}:capital1"
        messages = question("پایتخت ژاپن کجاست؟", "پایتخت ژاپن توکیو است.")
        row = reader.row(messages, "country:ژاپن", key)
        assert row is not None
        out, refuses = row.messages, row.refused
        assert out[0] == messages[0] and len(out) == 3
        user, reply = out[1]["content"], out[2]["content"]
        assert user.startswith(PASSAGES_HEADING)
        assert user.endswith(f"{QUESTION_HEADING} پایتخت ژاپن کجاست؟")
        titles = shown_titles(user)
        assert 1 <= len(titles) <= 3 and len(set(titles)) == len(titles) == len(row.shown)
        if refuses:
            refused += 1
            assert "ژاپن" not in titles and reply in REFUSALS
            assert REFUSAL_EXPECTED in reply
        else:
            answered += 1
            assert "ژاپن" in titles and reply == "پایتخت ژاپن توکیو است."
    assert 30 <= refused <= 70 and answered + refused == 200  # about a quarter refuse
    # the same key gives the same row: prepare is byte-identical on a rerun
    again = reader.row(question("پایتخت ژاپن کجاست؟", "x"), "country:ژاپن", "countries.tsv:7")
    assert again == reader.row(
        question("پایتخت ژاپن کجاست؟", "x"), "country:ژاپن", "countries.tsv:7"
    )


def test_show_gold_always_answers_from_the_gold_passage(reader: Reader) -> None:
    """A refused row's pair: the same question with its passage shown, and the answer."""
    messages = question("پایتخت ژاپن کجاست؟", "پایتخت ژاپن توکیو است.")
    keys = [f"countries.tsv:{index}" for index in range(80)]
    refused = [k for k in keys if (r := reader.row(messages, "country:ژاپن", k)) and r.refused]
    assert refused  # a quarter of the keys refuse without show_gold
    for key in refused:
        pair = reader.row(messages, "country:ژاپن", key, show_gold=True)
        assert pair is not None and not pair.refused and "country:ژاپن" in pair.shown
        assert pair.messages[-1]["content"] == "پایتخت ژاپن توکیو است."


def test_an_unknown_gold_passage_gives_no_row(reader: Reader) -> None:
    assert reader.row(question("پایتخت مصر کجاست؟", "قاهره"), "country:مصر", "k") is None


def test_distractors_go_before_the_gold_passage_when_over_the_budget() -> None:
    base = KnowledgeBase()
    base.add(PASSAGES)
    budget = len(passages_block(PASSAGES[:1]).split()) + 2  # room for the gold one only
    tight = Reader({p.id: p for p in PASSAGES}, base, lambda text: len(text.split()), budget)
    for index in range(40):
        row = tight.row(question("پایتخت ژاپن کجاست؟", "توکیو"), "country:ژاپن", f"k{index}")
        assert row is not None
        titles = shown_titles(row.messages[1]["content"])
        refuses = row.refused
        assert len(titles) == 1 and (refuses or titles == ["ژاپن"])


def test_a_follow_up_has_passages_in_its_last_turn_only(reader: Reader) -> None:
    first = question("پایتخت ژاپن کجاست؟", "پایتخت ژاپن توکیو است.")
    cells = {"country": "ژاپن", "currency": "ین", "continent": "آسیا"}
    turns = follow_up(first, "currency", cells, "k")
    assert turns[:3] == first and turns[-1]["content"].count("ین") >= 1
    query = f"{turns[1]['content']} {turns[3]['content']}"
    row = reader.row(turns, "country:ژاپن", "k:followup", query)
    assert row is not None
    out = row.messages
    assert out[1]["content"] == "پایتخت ژاپن کجاست؟"  # history as the client sends it back
    assert out[3]["content"].startswith(PASSAGES_HEADING)


def test_half_of_the_conversations_become_reading_rows() -> None:
    taken = sum(takes_conversation(f"chat.jsonl:{line}") for line in range(4000))
    assert 1800 <= taken <= 2200


def test_an_everyday_conversation_keeps_its_answer_without_its_passage(reader: Reader) -> None:
    """Near misses only in front of a conversation's question: its own answer stays the
    target (a greeting or a request for advice is answered, never refused)."""
    near = 0
    for index in range(200):
        messages = question("پایتخت ژاپن کجاست؟", "توکیو، شهری بزرگ.")
        row = reader.row(messages, "country:ژاپن", f"chat:{index}", everyday=True)
        assert row is not None and not row.refused
        assert row.messages[-1]["content"] == "توکیو، شهری بزرگ."
        near += "country:ژاپن" not in row.shown
    assert abs(near / 200 - WITHOUT_GOLD_PERCENT / 100) < 0.15


def test_a_calculation_carries_its_computed_passage_first(reader: Reader) -> None:
    messages = question("۱۲ به علاوهٔ ۳۰ چند می‌شود؟", "حاصل جمع ۴۲ است.")
    row = reader.computed_row(messages, "arithmetic:12:30")
    assert row is not None and not row.refused
    assert row.shown[0] == "computed:+" and len(row.shown) <= 3
    user = row.messages[1]["content"]
    assert user.startswith(PASSAGES_HEADING) and "۴۲" in user.split(QUESTION_HEADING)[0]
    assert row.messages[-1] == {"role": "assistant", "content": "حاصل جمع ۴۲ است."}
    date = question("۱ فروردین ۱۴۰۳ شمسی چه روزی از هفته است؟", "چهارشنبه.")
    dated = reader.computed_row(date, "dates:1")
    assert dated is not None and dated.shown[0].startswith("computed:date:")
    assert reader.computed_row(question("سلام، خوبی؟", "سلام!"), "chat:1") is None


def test_hidden_passages_are_never_shown(reader: Reader) -> None:
    for index in range(40):
        row = reader.row(
            question("پایتخت ژاپن کجاست؟", "توکیو"),
            "country:ژاپن",
            f"k{index}",
            hidden={"country:چین"},
        )
        assert row is not None and "country:چین" not in row.shown


def test_the_committed_dataset_reads_on_held_out_entities(repo: Path) -> None:
    """Reading rows in datasets/: every fact question carries passages; a refusal never
    carries its gold passage; no passage a test row is about is shown in training."""

    def rows(name: str) -> list[dict[str, Any]]:
        text = (repo / "datasets" / name).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    train, test = rows("train.jsonl"), rows("test.jsonl")
    reading = [r for r in train if r["source"] == "reading"]
    kinds = Counter(str(r["domain"]) for r in reading)
    assert kinds["reading_refusal"] > 200 and kinds["facts_geography"] > 500
    assert kinds["reading_passages"] > 500  # questions about hand-written passages
    assert not [r for r in train if r["source"] == "task:facts"]  # all became reading rows
    assert len([r for r in reading if len(r["messages"]) == 5]) > 100  # follow-ups
    # every refused fact question is also asked with its passage shown and answered
    by_question: dict[str, set[bool]] = {}
    for record in reading:
        if record["gold"].startswith("conversation:"):
            continue
        asked = record["messages"][-2]["content"].rsplit(QUESTION_HEADING, 1)[-1]
        key = f"{record['gold']}|{len(record['messages'])}|{asked}"
        by_question.setdefault(key, set()).add(record["domain"] == "reading_refusal")
    refused_only = [k for k, kinds_seen in by_question.items() if kinds_seen == {True}]
    assert not refused_only, refused_only[:3]
    near_conversations = 0
    for record in reading:
        refused = record["domain"] == "reading_refusal"
        assert (record.get("expected") == REFUSAL_EXPECTED) is refused
        if refused or record["gold"] in record["passages"]:
            continue
        # only a conversation answers without its passage: a fact question refuses then
        assert record["gold"].startswith("conversation:")
        near_conversations += 1
    assert near_conversations > 300
    # sums and date questions read the computed passage the server would show them (the
    # server computes no «۸ بار ۹» and no «write 7 in words»: those rows have none either)
    sums = [r for r in train if r["source"] == "task:arithmetic"]
    computed = [r for r in train if r["source"].startswith("task:") and r.get("passages")]
    assert len([r for r in sums if r.get("passages")]) > 0.9 * len(sums)
    assert len(computed) > 1000
    assert all(r["passages"][0].startswith("computed:") for r in computed)
    test_golds = {r["gold"] for r in test if r["source"] == "reading"}
    shown_in_training = {pid for r in reading for pid in r["passages"]}
    assert test_golds and not test_golds & shown_in_training
    assert not evaluated_passages(repo / "datasets/sources/eval") & shown_in_training
