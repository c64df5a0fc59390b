"""The knowledge evaluation holds out phrasings: no question is one the model trained on,
every grounded answer stands in its passage, and the sets are large enough to read."""

from __future__ import annotations

import json
from pathlib import Path

from persian_chat.normalize import PersianNormalizer
from persian_chat.retrieval import load_passages
from persian_chat.training.data.knowledge_questions import (
    grounded_questions,
    unanswerable_questions,
)


def test_questions_are_held_out_and_answers_are_in_their_passages(repo: Path) -> None:
    normalize = PersianNormalizer().normalize
    sources = repo / "datasets/sources"
    grounded = grounded_questions(sources / "tables", sources / "eval", normalize)
    unanswerable = unanswerable_questions(sources / "eval", normalize)
    assert len(grounded) >= 150 and len(unanswerable) >= 50
    assert len({q.question for q in grounded + unanswerable}) == len(grounded) + len(unanswerable)
    trained = set()
    for line in (repo / "datasets/train.jsonl").read_text(encoding="utf-8").splitlines():
        trained.update(m["content"] for m in json.loads(line)["messages"] if m["role"] == "user")
    assert not [q.question for q in grounded + unanswerable if q.question in trained]
    passages = {p.id: p for p in load_passages(repo / "datasets/knowledge/passages.jsonl")}
    for q in grounded:
        assert q.answer in passages[q.passage_id].text, (q.question, q.passage_id)
