"""BM25 search over knowledge passages with SQLite's FTS5: embedded, persistent, updated in
place (the studio adds a bot's passages without a rebuild).

FTS5's own tokenizer folds nothing Persian needs (ك/ک, three digit scripts, ZWNJ, vowel
marks), so passages and queries both go through `persian_chat.knowledge.fold_words` and FTS5
sees plain space-separated words. A query is built, never passed through: stopwords are out,
each word becomes the passage words it reduces to (suffixes stripped against the index's
vocabulary), the terms are quoted and OR-ed, and `bm25()` orders the hits, the title weighing
more than the body.

"Nothing relevant" is decided by coverage, not by bm25's unbounded score: the share of the
query's information (the idf of its words) that the best passage contains. A word no passage
has (an invented country, a private person's name) counts with the largest idf, so a
question about it stays below the threshold even when its other words match.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persian_chat.knowledge import Passage, fold_words, reductions

TITLE_WEIGHT, BODY_WEIGHT = 1.0, 1.0  # measured: a heavier title ranked worse
DEFAULT_MIN_COVERAGE = 0.4  # measured on the grounded and unanswerable sets (README)
CANDIDATES = 50  # bm25's best, re-ranked by coverage (in tenths), then bm25
COVERAGE_STEP = 0.1
COMMON_SHARE, COMMON_MIN = 0.005, 5000  # a term in more passages than this is not matched on
SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    n INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL, domain TEXT NOT NULL, words TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(
    title, body, content='', tokenize='unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE IF NOT EXISTS vocabulary USING fts5vocab(terms, 'row');
"""


@dataclass(frozen=True)
class Hit:
    passage: Passage
    bm25: float  # SQLite's bm25(): lower is better
    coverage: float  # share of the query's idf found in the passage, 0..1


class ScoredSearch(ABC):
    """What every knowledge base does the same way (SQLite here, PostgreSQL in
    retrieval_pg.py): the query's terms, coverage, the "nothing relevant" line and the
    ranking. A subclass stores passages, keeps `_vocabulary` (word -> passages holding it)
    and `_count_passages` in step, and finds candidates (`_match`)."""

    _vocabulary: dict[str, int]
    _count_passages: int

    def __len__(self) -> int:
        return self._count_passages

    def _tally(self, words: Iterable[str], step: int) -> None:
        """Keep the word -> passages table in step with the index (no rescan per update)."""
        for word in set(words):
            held = self._vocabulary.get(word, 0) + step
            if held > 0:
                self._vocabulary[word] = held
            else:
                self._vocabulary.pop(word, None)

    @abstractmethod
    def _match(self, terms: list[str], limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` rows (id, title, text, source, domain, words, score; lower score is
        better) of passages holding any of `terms`, best first."""

    @abstractmethod
    def add(self, passages: Iterable[Passage]) -> int:
        """Insert or replace passages by id; returns how many were written."""

    @abstractmethod
    def remove(self, ids: Iterable[str]) -> int:
        """Remove passages by id; returns how many there were."""

    @abstractmethod
    def close(self) -> None: ...

    def _idf(self, word: str) -> float:
        held = self._vocabulary.get(word, 0)
        return math.log((self._count_passages + 1) / (held + 0.5))

    def query_terms(self, query: str) -> list[tuple[str, list[str]]]:
        """Each query word, once, with the passage words it reduces to (empty: no passage has
        it): a word said twice («برم … برم») is no more of the question's information."""
        words = dict.fromkeys(fold_words(query))
        return [(word, reductions(word, self._vocabulary)) for word in words]

    def _selective(self, terms: list[str]) -> list[str]:
        """The terms worth matching on: a word in more than COMMON_SHARE of the passages
        adds little to bm25 and makes the index score its whole posting list (30x slower
        queries at a million passages); it still counts in coverage. The two rarest stay."""
        limit = max(COMMON_MIN, COMMON_SHARE * self._count_passages)
        ranked = sorted(terms, key=lambda t: self._vocabulary.get(t, 0))
        return [t for i, t in enumerate(ranked) if i < 2 or self._vocabulary.get(t, 0) <= limit]

    def search(
        self, query: str, k: int = 3, min_coverage: float = DEFAULT_MIN_COVERAGE
    ) -> list[Hit]:
        """Up to `k` passages for `query`, best first, each covering at least `min_coverage`
        of the query's idf; empty when nothing is relevant."""
        words = self.query_terms(query)
        terms = sorted({term for _, found in words for term in found})
        if not terms or self._count_passages == 0:
            return []
        weights = [
            max((self._idf(t) for t in found), default=math.log(self._count_passages + 1))
            for _, found in words
        ]
        total = sum(weights) or 1.0
        hits = []
        for pid, title, text, source, domain, held, score in self._match(
            self._selective(terms), CANDIDATES
        ):
            present = set(held.split())
            covered = sum(
                weight
                for (_, found), weight in zip(words, weights, strict=True)
                if any(term in present for term in found)
            )
            coverage = covered / total
            if coverage >= min_coverage:
                hits.append(Hit(Passage(pid, title, text, source, domain), score, coverage))
        hits.sort(key=lambda hit: (-int(hit.coverage / COVERAGE_STEP), hit.bm25))
        return hits[:k]


class KnowledgeBase(ScoredSearch):
    """Passages in one SQLite file (or in memory). Thread-safe: one connection, one lock
    (a search takes about a millisecond; the server calls it from worker threads)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(SCHEMA)
        # word -> passages holding it, read once from FTS5's vocabulary, then kept in step
        rows = self._db.execute("SELECT term, doc FROM vocabulary").fetchall()
        self._vocabulary: dict[str, int] = {term: int(doc) for term, doc in rows}
        self._count_passages = int(self._db.execute("SELECT count(*) FROM passages").fetchone()[0])

    def add(self, passages: Iterable[Passage]) -> int:
        """Insert or replace passages by id; returns how many were written."""
        written = 0
        with self._lock, self._db:
            for passage in passages:
                title = " ".join(fold_words(passage.title))
                body = " ".join(fold_words(passage.text))
                old = self._db.execute(
                    "SELECT n, title, text FROM passages WHERE id = ?", (passage.id,)
                ).fetchone()
                if old is not None:
                    self._forget(old)
                cursor = self._db.execute(
                    "INSERT INTO passages (id, title, text, source, domain, words) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        passage.id,
                        passage.title,
                        passage.text,
                        passage.source,
                        passage.domain,
                        f"{title} {body}",
                    ),
                )
                self._db.execute(
                    "INSERT INTO terms (rowid, title, body) VALUES (?, ?, ?)",
                    (cursor.lastrowid, title, body),
                )
                self._tally(f"{title} {body}".split(), +1)
                self._count_passages += 1
                written += 1
        return written

    def _forget(self, row: tuple[int, str, str]) -> None:
        """Drop a stored passage (n, title, text): FTS5's contentless index needs the words
        it indexed to delete them."""
        n, title, text = row
        title_words, body_words = " ".join(fold_words(title)), " ".join(fold_words(text))
        self._db.execute(
            "INSERT INTO terms (terms, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            (n, title_words, body_words),
        )
        self._db.execute("DELETE FROM passages WHERE n = ?", (n,))
        self._tally(f"{title_words} {body_words}".split(), -1)
        self._count_passages -= 1

    def remove(self, ids: Iterable[str]) -> int:
        removed = 0
        with self._lock, self._db:
            for passage_id in ids:
                row = self._db.execute(
                    "SELECT n, title, text FROM passages WHERE id = ?", (passage_id,)
                ).fetchone()
                if row is not None:
                    self._forget(row)
                    removed += 1
        return removed

    def _match(self, terms: list[str], limit: int) -> list[tuple[Any, ...]]:
        match = " OR ".join(f'"{term}"' for term in terms)
        with self._lock:
            rows: list[tuple[Any, ...]] = self._db.execute(
                "SELECT p.id, p.title, p.text, p.source, p.domain, p.words, "
                f"bm25(terms, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS score "
                "FROM terms JOIN passages AS p ON p.n = terms.rowid "
                "WHERE terms MATCH ? ORDER BY score LIMIT ?",
                (match, limit),
            ).fetchall()
        return rows

    def memory_bytes(self) -> int:
        """The database's size: its memory when it lives in memory, else its file's."""
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)

    def close(self) -> None:
        self._db.close()


def load_passages(path: Path) -> list[Passage]:
    """Passages from a JSONL file (datasets/knowledge/passages.jsonl, a studio upload)."""
    import json

    with path.open(encoding="utf-8") as handle:
        return [Passage.from_dict(json.loads(line)) for line in handle if line.strip()]
