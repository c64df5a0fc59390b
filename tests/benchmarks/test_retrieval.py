"""bench retrieval on the shipped knowledge base with a small generated scale."""

from __future__ import annotations

from pathlib import Path

from persian_chat.benchmarks.retrieval import describe, measure, scale_passages
from persian_chat.knowledge import Passage


def test_the_benchmark_measures_recall_thresholds_and_scale(repo: Path) -> None:
    sources = repo / "datasets/sources"
    result = measure(
        repo / "datasets/knowledge/passages.jsonl",
        sources / "tables",
        sources / "eval",
        scale=2000,
        repeats=1,
    )
    shipped = result["shipped"]
    assert shipped["all"]["questions"] >= 150 and 0.9 <= shipped["all"]["recall_at_3"] <= 1
    assert [t["min_coverage"] for t in shipped["thresholds"]] == [0.3, 0.4, 0.5, 0.6]
    kept = [t["grounded_kept"] for t in shipped["thresholds"]]
    assert kept == sorted(kept, reverse=True)  # a higher line keeps fewer
    assert result["scale"]["passages"] == shipped["passages"] + 2000
    text = describe(result)
    assert "recall@3" in text and "p95" in text


def test_scale_passages_are_deterministic_and_use_the_shipped_words() -> None:
    seed = [Passage("a", "ژاپن", "پایتخت ژاپن توکیو است", "s", "d")]
    first = list(scale_passages(seed, 5))
    assert first == list(scale_passages(seed, 5)) and len(first) == 5
    assert set(" ".join(p.text for p in first).split()) <= {"پایتخت", "ژاپن", "توکیو"}
