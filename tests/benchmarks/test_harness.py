from __future__ import annotations

from pathlib import Path

from persian_chat.benchmarks.harness import SENTIMENTS, task_rows, write_tasks


def test_the_tasks_are_built_from_the_held_out_rows(repo: Path, tmp_path: Path) -> None:
    rows = task_rows(repo / "datasets" / "test.jsonl")
    sentiment, facts = rows["persian_chat_sentiment"], rows["persian_chat_facts"]
    assert len(sentiment) >= 30 and len(facts) >= 50
    for doc in [*sentiment, *facts]:
        assert doc["context"].startswith("<start_of_turn>user\n")
        assert doc["context"].endswith("<start_of_turn>model\n")
        assert "پرسش:" not in doc["context"]  # a reading row's bare question, no passages
        assert 0 <= doc["gold"] < len(doc["choices"]) == len(set(doc["choices"]))
    assert {doc["choices"][doc["gold"]].strip() for doc in sentiment} <= set(SENTIMENTS)
    assert task_rows(repo / "datasets" / "test.jsonl") == rows  # the same every run
    names = write_tasks(rows, tmp_path)
    assert names == ["persian_chat_facts", "persian_chat_sentiment"]
    assert "output_type: multiple_choice" in (tmp_path / "persian_chat_facts.yaml").read_text()
