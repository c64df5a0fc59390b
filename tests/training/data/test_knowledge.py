"""The project's knowledge base: every source, normalized, deterministic, within the style
checker's rules for the hand-written passages."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from persian_chat.knowledge import Passage
from persian_chat.normalize import PersianNormalizer
from persian_chat.training.data.knowledge import (
    build_knowledge,
    knowledge_counts,
    knowledge_jsonl,
)


@pytest.fixture(scope="module")
def passages(repo: Path) -> list[Passage]:
    sources = repo / "datasets/sources"
    normalize = PersianNormalizer().normalize
    return build_knowledge(
        sources / "tables", sources / "conversations", sources / "knowledge", normalize
    )


def test_every_source_is_in_and_ids_are_unique(passages: list[Passage]) -> None:
    counts = knowledge_counts(passages)
    sources = counts["sources"]
    assert isinstance(sources, dict)
    assert counts["passages"] == len(passages) >= 5000
    assert sources["countries"] == 193 and sources["provinces"] == 31 and sources["cities"] == 101
    assert sources["handwritten"] >= 800 and sources["hafez"] >= 495 * 2
    assert sources["calendar"] >= 12 + 7 and sources["conversations"] >= 2500
    assert len({p.id for p in passages}) == len(passages)
    assert max(Counter((p.title, p.text) for p in passages).values()) == 1


def test_passages_are_normalized_like_the_chat_data(passages: list[Passage]) -> None:
    for passage in passages:
        assert not any(c in passage.text + passage.title for c in "يك٤٥٦"), passage.id
    japan = next(p for p in passages if p.id == "country:ژاپن")
    assert japan.text.startswith("ژاپن کشوری در قاره") and "پایتخت ژاپن توکیو است." in japan.text
    # «ایران شهر» would be joined into the city name «ایران‌شهر» by the normalizer
    iran = next(p for p in passages if p.id == "country:ایران")
    assert "پایتخت ایران تهران است." in iran.text


def test_the_file_is_the_same_on_a_rerun(repo: Path, passages: list[Passage]) -> None:
    sources = repo / "datasets/sources"
    again = build_knowledge(
        sources / "tables",
        sources / "conversations",
        sources / "knowledge",
        PersianNormalizer().normalize,
    )
    assert knowledge_jsonl(again) == knowledge_jsonl(passages)


def test_the_hand_written_passages_pass_their_checker(repo: Path) -> None:
    folder = repo / "datasets/sources/knowledge"
    files = sorted(folder.glob("*.jsonl"))
    result = subprocess.run(
        [sys.executable, str(folder / "check.py"), *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:]
