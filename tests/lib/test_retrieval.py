"""BM25 over SQLite FTS5 with Persian folding, coverage and the "nothing relevant" line."""

from __future__ import annotations

from pathlib import Path

from persian_chat.knowledge import Passage
from persian_chat.retrieval import KnowledgeBase, load_passages

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


def base() -> KnowledgeBase:
    kb = KnowledgeBase()
    assert kb.add(PASSAGES) == 4
    return kb


def test_the_passage_that_answers_comes_first_in_any_phrasing() -> None:
    kb = base()
    for question in ("پایتخت ژاپن کجاست؟", "ژاپنی‌ها پایتختشون کجاست", "پايتخت ژاپن كجاست"):
        assert kb.search(question)[0].passage.id == "c:1", question
    assert kb.search("پول رایج عراق چیه؟")[0].passage.id == "c:3"
    assert kb.search("بچه‌ها شبی چند ساعت باید بخوابن؟")[0].passage.id == "h:1"
    assert kb.search("كودكان چند ساعت خواب ۹")[0].passage.id == "h:1"  # Arabic letters


def test_nothing_relevant_gives_no_passage() -> None:
    kb = base()
    assert kb.search("پایتخت زرکستان کجاست؟") == []  # an invented country: half the question
    assert kb.search("قیمت دلار امروز چنده؟") == []
    assert kb.search("؟") == [] and kb.search("") == []
    assert kb.search("پایتخت زرکستان کجاست؟", min_coverage=0.0)  # found when asked anyway
    hit = kb.search("پایتخت ژاپن")[0]
    assert hit.coverage == 1.0 and hit.bm25 < 0


def test_passages_are_replaced_and_removed_in_place(tmp_path: Path) -> None:
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
