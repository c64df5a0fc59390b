"""Persian retrieval, coverage and the "nothing relevant" line, on both knowledge bases:
SQLite FTS5 (embedded) and PostgreSQL full-text search (a throwaway cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persian_chat.knowledge import Passage
from persian_chat.retrieval import KnowledgeBase, ScoredSearch, load_passages

PASSAGES = [
    Passage("c:1", "ژاپن", "ژاپن کشوری در آسیا است. پایتخت ژاپن شهر توکیو است.", "countries", "g"),
    Passage(
        "c:2", "فرانسه", "فرانسه کشوری در اروپا است. پایتخت فرانسه شهر پاریس است.", "countries", "g"
    ),
    Passage("c:3", "عراق", "پایتخت عراق شهر بغداد است. واحد پول عراق دینار است.", "countries", "g"),
    Passage(
        "h:1",
        "خواب کودکان",
        "کودکان دبستانی هر شب به ۹ تا ۱۱ ساعت خواب نیاز دارند.",
        "handwritten",
        "health",
    ),
]


@pytest.fixture(params=["sqlite", "postgres"])
def empty(request: pytest.FixtureRequest) -> Iterator[ScoredSearch]:
    if request.param == "sqlite":
        kb: Any = KnowledgeBase()
    else:
        from persian_chat.retrieval_pg import PostgresKnowledgeBase

        kb = PostgresKnowledgeBase(request.getfixturevalue("postgres_database"))
    yield kb
    kb.close()


@pytest.fixture
def kb(empty: Any) -> Any:
    assert empty.add(PASSAGES) == 4
    return empty


def test_the_passage_that_answers_comes_first_in_any_phrasing(kb: Any) -> None:
    for question in ("پایتخت ژاپن کجاست؟", "ژاپنی‌ها پایتختشون کجاست", "پايتخت ژاپن كجاست"):
        assert kb.search(question)[0].passage.id == "c:1", question
    assert kb.search("پول رایج عراق چیه؟")[0].passage.id == "c:3"
    assert kb.search("بچه‌ها شبی چند ساعت باید بخوابن؟")[0].passage.id == "h:1"
    assert kb.search("كودكان چند ساعت خواب ۹")[0].passage.id == "h:1"  # Arabic letters


def test_spoken_filler_and_repeated_words_do_not_hide_the_passage(kb: Any) -> None:
    """«اگه بخوام برم …، باید برم …»: the colloquial «if I want to» is no more of the
    question than «اگر»; a word said twice counts once."""
    question = "اگه بخوام برم پایتخت ژاپن، باید برم کدوم شهر؟"
    assert [word for word, _ in kb.query_terms(question)] == ["برم", "پایتخت", "ژاپن", "شهر"]
    assert kb.search(question)[0].passage.id == "c:1"


def test_nothing_relevant_gives_no_passage(kb: Any) -> None:
    assert kb.search("پایتخت زرکستان کجاست؟") == []  # an invented country: half the question
    assert kb.search("قیمت دلار امروز چنده؟") == []
    assert kb.search("؟") == [] and kb.search("") == []
    assert kb.search("پایتخت زرکستان کجاست؟", min_coverage=0.0)  # found when asked anyway
    hit = kb.search("پایتخت ژاپن")[0]
    assert hit.coverage == 1.0 and hit.bm25 < 0  # lower is better, as SQLite's bm25()


def test_passages_are_replaced_and_removed_in_place(kb: Any) -> None:
    kb.add([Passage("c:1", "ژاپن", "پایتخت ژاپن شهر کیوتو بود.", "countries", "g")])
    assert len(kb) == 4 and "کیوتو" in kb.search("پایتخت ژاپن")[0].passage.text
    assert kb.search("توکیو") == []  # the old text is out of the index, and its words' counts
    assert "توکیو" not in kb.query_terms("توکیو")[0][1]
    assert kb.remove(["c:2", "missing"]) == 1 and kb.search("پاریس") == [] and len(kb) == 3


def test_postgres_counts_are_shared_by_every_process(postgres_database: str) -> None:
    from persian_chat.retrieval_pg import PostgresKnowledgeBase

    writer = PostgresKnowledgeBase(postgres_database)
    writer.add(PASSAGES)
    reader = PostgresKnowledgeBase(postgres_database)  # another replica, opened later
    assert len(reader) == 4 and reader.query_terms("پایتخت") == writer.query_terms("پایتخت")
    assert reader.search("پول رایج عراق چیه؟")[0].passage.id == "c:3"
    writer.close()
    reader.close()


def test_sqlite_passages_persist_in_their_file(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    kb = KnowledgeBase(path)
    kb.add(PASSAGES)
    kb.add([Passage("c:1", "ژاپن", "پایتخت ژاپن شهر کیوتو بود.", "countries", "g")])
    assert len(kb) == 4 and "کیوتو" in kb.search("پایتخت ژاپن")[0].passage.text
    assert kb.search("توکیو") == []  # the old text is out of the index too
    assert kb.remove(["c:2", "missing"]) == 1 and kb.search("پاریس") == []
    kb.close()
    reopened = KnowledgeBase(path)  # persistent: the studio's knowledge survives a restart
    assert len(reopened) == 3 and reopened.search("بغداد")[0].passage.id == "c:3"
    reopened.close()


def test_passages_load_from_jsonl(tmp_path: Path) -> None:
    import json

    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(p.as_dict(), ensure_ascii=False) + "\n" for p in PASSAGES))
    assert load_passages(path) == PASSAGES
