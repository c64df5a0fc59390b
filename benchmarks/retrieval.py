"""Knowledge retrieval: recall of the right passage on the grounded questions, how often the
unanswerable ones find nothing, latency and memory at the shipped size, and latency at a
generated scale (1,000,000 passages by default) in an on-disk SQLite file.

The scale passages are made by code: sentences of words drawn from the shipped knowledge
base's own vocabulary with its word frequencies (so common words stay common, as in real
text), plus the shipped passages, so the grounded questions still have their answers.

    persian-chat bench retrieval [--knowledge datasets/knowledge/passages.jsonl]
                                 [--scale 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import load_average, machine_info, publish
from persian_chat.knowledge import Passage, fold_words
from persian_chat.retrieval import DEFAULT_MIN_COVERAGE, KnowledgeBase, load_passages

THRESHOLDS = (0.3, 0.4, 0.5, 0.6)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latencies(kb: KnowledgeBase, queries: list[str], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        for query in queries:
            start = time.perf_counter()
            kb.search(query)
            times.append(time.perf_counter() - start)
    return {
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p95_ms": round(_percentile(times, 0.95) * 1000, 3),
        "max_ms": round(max(times) * 1000, 3),
    }


def quality(kb: KnowledgeBase, grounded: list[Any], unanswerable: list[Any]) -> dict[str, Any]:
    """recall@1/@3 of the right passage, answer recall@3 (a passage in the top three holds
    the answer: the same fact often stands in two passages), by kind; and, per threshold,
    the grounded questions that keep their passage and the unanswerable ones left empty."""
    rows: dict[str, list[tuple[bool, bool, bool]]] = {}
    best: list[float] = []
    for q in grounded:
        hits = kb.search(q.question, k=3, min_coverage=0.0)
        ids = [h.passage.id for h in hits]
        rows.setdefault(q.kind, []).append(
            (
                ids[:1] == [q.passage_id],
                q.passage_id in ids,
                any(q.answer in h.passage.text for h in hits),
            )
        )
        best.append(hits[0].coverage if hits else 0.0)
    tops = [kb.search(q.question, k=1, min_coverage=0.0) for q in unanswerable]
    empty = [hits[0].coverage if hits else 0.0 for hits in tops]
    every = [row for kind in rows.values() for row in kind]

    def rates(items: list[tuple[bool, bool, bool]]) -> dict[str, float]:
        n = max(len(items), 1)
        return {
            "questions": len(items),
            "recall_at_1": round(sum(a for a, _, _ in items) / n, 4),
            "recall_at_3": round(sum(b for _, b, _ in items) / n, 4),
            "answer_recall_at_3": round(sum(c for _, _, c in items) / n, 4),
        }

    return {
        "all": rates(every),
        "by_kind": {kind: rates(items) for kind, items in sorted(rows.items())},
        "thresholds": [
            {
                "min_coverage": t,
                "grounded_kept": round(sum(c >= t for c in best) / max(len(best), 1), 4),
                "unanswerable_empty": round(sum(c < t for c in empty) / max(len(empty), 1), 4),
            }
            for t in THRESHOLDS
        ],
    }


def scale_passages(passages: list[Passage], count: int, seed: int = 0) -> Iterator[Passage]:
    """`count` generated passages of 30-60 words drawn with the shipped word frequencies."""
    frequencies = Counter(w for p in passages for w in fold_words(f"{p.title} {p.text}"))
    words, weights = zip(*frequencies.most_common(), strict=True)
    rng = random.Random(seed)
    for number in range(count):
        drawn = rng.choices(words, weights, k=rng.randint(30, 60))
        yield Passage(f"scale:{number}", " ".join(drawn[:4]), " ".join(drawn), "scale", "scale")


def measure(
    knowledge: Path, tables: Path, eval_sources: Path, scale: int, repeats: int
) -> dict[str, Any]:
    from persian_chat.normalize import PersianNormalizer
    from persian_chat.training.data.knowledge_questions import (
        grounded_questions,
        unanswerable_questions,
    )

    normalize = PersianNormalizer().normalize
    grounded = grounded_questions(tables, eval_sources, normalize)
    unanswerable = unanswerable_questions(eval_sources, normalize)
    queries = [q.question for q in grounded + unanswerable]
    passages = load_passages(knowledge)
    tracemalloc.start()
    start = time.perf_counter()
    kb = KnowledgeBase()
    kb.add(passages)
    build_s = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    shipped = {
        "passages": len(kb),
        "build_s": round(build_s, 3),
        "python_heap_mib": round(traced / 2**20, 1),
        "sqlite_mib": round(kb.memory_bytes() / 2**20, 1),
        "latency": _latencies(kb, queries, repeats),
        **quality(kb, grounded, unanswerable),
    }
    kb.close()
    result: dict[str, Any] = {"min_coverage": DEFAULT_MIN_COVERAGE, "shipped": shipped}
    if scale:
        with tempfile.TemporaryDirectory(prefix="persian-chat-retrieval-") as folder:
            path = Path(folder) / "scale.sqlite"
            big = KnowledgeBase(path)
            start = time.perf_counter()
            batch: list[Passage] = []
            for passage in scale_passages(passages, scale):
                batch.append(passage)
                if len(batch) == 10_000:
                    big.add(batch)
                    batch = []
            big.add([*batch, *passages])
            result["scale"] = {
                "passages": len(big),
                "build_s": round(time.perf_counter() - start, 1),
                "file_mib": round(path.stat().st_size / 2**20, 1),
                "latency": _latencies(big, queries, 1),
                "recall_at_3": quality(big, grounded, [])["all"]["recall_at_3"],
            }
            big.close()
    return result


def served_ttft(model: Path, knowledge: Path, questions: list[str], threads: int) -> dict[str, Any]:
    """Time to first token through a live server with the knowledge base, each question
    asked with retrieval and without ("knowledge": false), interleaved, one at a time; the
    prompt cache off, so every prompt is prefilled whole (the first turn of a chat)."""
    import httpx

    from persian_chat.benchmarks.serving_load import start_server

    port = 8700 + random.randint(0, 200)
    extra = ("--knowledge", str(knowledge), "--prompt-cache-mb", "0")
    process, _ = start_server(model, port, threads, 1, extra)
    url = f"http://127.0.0.1:{port}/api/chat"
    times: dict[str, list[float]] = {"with": [], "without": []}
    prompt_tokens: dict[str, list[int]] = {"with": [], "without": []}
    try:
        for question in ["سلام", *questions]:  # the first is a warm-up
            for label, flag in (("with", True), ("without", False)):
                body = {
                    "messages": [{"role": "user", "content": question}],
                    "max_tokens": 2,
                    "knowledge": flag,
                    "temperature": 0,
                }
                start = time.perf_counter()
                first = None
                with httpx.stream("POST", url, json=body, timeout=120) as reply:
                    for line in reply.iter_lines():
                        if first is None and line.startswith('data: {"token"'):
                            first = time.perf_counter() - start
                        if '"done"' in line:
                            done = json.loads(line[6:])
                if question != "سلام" and first is not None:
                    times[label].append(first)
                    prompt_tokens[label].append(done["usage"]["prompt_tokens"])
    finally:
        process.terminate()
        process.wait(30)
    p50 = {label: statistics.median(values) for label, values in times.items()}
    return {
        "questions": len(times["with"]),
        "ttft_p50_ms": {label: round(v * 1000, 1) for label, v in p50.items()},
        "prompt_tokens_mean": {
            label: round(statistics.mean(v), 1) for label, v in prompt_tokens.items()
        },
        "ratio": round(p50["with"] / p50["without"], 2),
    }


def describe(result: dict[str, Any]) -> str:
    s = result["shipped"]
    lines = [
        f"Knowledge base: {s['passages']:,} passages, indexed in {s['build_s']} s "
        f"({s['python_heap_mib']} MiB of Python heap, {s['sqlite_mib']} MiB in SQLite).",
        "",
        "| questions | n | recall@1 | recall@3 | answer in top 3 |",
        "|---|---|---|---|---|",
    ]
    for kind, r in [("all grounded", s["all"]), *s["by_kind"].items()]:
        lines.append(
            f"| {kind} | {r['questions']} | {r['recall_at_1']:.1%} | "
            f"{r['recall_at_3']:.1%} | {r['answer_recall_at_3']:.1%} |"
        )
    lines += [
        "",
        "| min coverage | grounded questions keeping a passage | "
        "unanswerable questions given none |",
        "|---|---|---|",
    ]
    for t in s["thresholds"]:
        chosen = " (default)" if t["min_coverage"] == result["min_coverage"] else ""
        lines.append(
            f"| {t['min_coverage']}{chosen} | {t['grounded_kept']:.1%} | "
            f"{t['unanswerable_empty']:.1%} |"
        )
    lat = s["latency"]
    lines += ["", f"Latency at the shipped size: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms."]
    if "scale" in result:
        g = result["scale"]
        lines.append(
            f"At {g['passages']:,} passages (on disk, {g['file_mib']} MiB, built in "
            f"{g['build_s']} s): p50 {g['latency']['p50_ms']} ms, p95 {g['latency']['p95_ms']} "
            f"ms, recall@3 {g['recall_at_3']:.1%}."
        )
    if "served" in result:
        t = result["served"]
        lines.append(
            f"Served TTFT p50 over {t['questions']} grounded questions (first turns, prompt "
            f"cache off): {t['ttft_p50_ms']['with']} ms with retrieval "
            f"({t['prompt_tokens_mean']['with']} prompt tokens on average) and "
            f"{t['ttft_p50_ms']['without']} ms without ({t['prompt_tokens_mean']['without']}): "
            f"{t['ratio']}x."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--knowledge", type=Path, default=Path("datasets/knowledge/passages.jsonl"))
    parser.add_argument("--tables", type=Path, default=Path("datasets/sources/tables"))
    parser.add_argument("--eval-sources", type=Path, default=Path("datasets/sources/eval"))
    parser.add_argument("--scale", type=int, default=1_000_000, help="0: no scale test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a served model: also time the first token with and without "
        "retrieval through a live server",
    )
    parser.add_argument("--ttft-questions", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="retrieval")
    args = parser.parse_args(argv)
    load_before = load_average()
    result = measure(args.knowledge, args.tables, args.eval_sources, args.scale, args.repeats)
    if args.model is not None:
        from persian_chat.normalize import PersianNormalizer
        from persian_chat.training.data.knowledge_questions import grounded_questions

        questions = grounded_questions(
            args.tables, args.eval_sources, PersianNormalizer().normalize
        )
        step = max(1, len(questions) // args.ttft_questions)
        chosen = [q.question for q in questions[::step]][: args.ttft_questions]
        result["served"] = served_ttft(args.model, args.knowledge, chosen, args.threads)
    result.update(machine=machine_info(), load_before=load_before, load_after=load_average())
    result.update(title="Knowledge retrieval", description=describe(result))
    print(result["description"])
    publish(args.name, result)
