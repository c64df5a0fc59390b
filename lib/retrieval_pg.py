"""The knowledge base in PostgreSQL, for deployments that outgrow one machine: every replica
searches one database, and the studio or a loader updates it in place.

Same interface and the same scoring as the SQLite one (persian_chat.retrieval.ScoredSearch):
passages and queries are folded by `fold_words`, PostgreSQL's 'simple' text search
configuration (no stemming, no stopwords of its own) indexes those words in a GIN index, a
query is the OR of its quoted terms, and ts_rank orders the candidates that coverage then
re-ranks. The word -> passages counts (idf) live in a table kept in the same transaction as
the passages, so every process reads the same figures when it opens the base.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from persian_chat.knowledge import Passage, fold_words
from persian_chat.retrieval import ScoredSearch

SCHEMA = """
CREATE TABLE IF NOT EXISTS knowledge_passages (
    n BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    source TEXT NOT NULL, domain TEXT NOT NULL, words TEXT NOT NULL,
    terms TSVECTOR NOT NULL
);
CREATE INDEX IF NOT EXISTS knowledge_passages_terms ON knowledge_passages USING GIN (terms);
CREATE TABLE IF NOT EXISTS knowledge_vocabulary (
    word TEXT PRIMARY KEY, passages INTEGER NOT NULL
);
"""


class PostgresKnowledgeBase(ScoredSearch):
    """Passages in a PostgreSQL database (`url`: postgresql://user@host/db). One connection
    and a lock, as the SQLite base (searches are milliseconds)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._db = psycopg.connect(url)
        self._lock = threading.Lock()
        with self._lock, self._db.transaction():
            self._db.execute(SCHEMA)
        rows = self._db.execute("SELECT word, passages FROM knowledge_vocabulary").fetchall()
        self._vocabulary = {word: int(count) for word, count in rows}
        count = self._db.execute("SELECT count(*) FROM knowledge_passages").fetchone()
        self._count_passages = int(count[0]) if count else 0
        self._db.commit()

    def _store_counts(self, words: Iterable[str], step: int) -> None:
        unique = sorted(set(words))
        self._tally(unique, step)
        if unique:
            self._db.execute(
                "INSERT INTO knowledge_vocabulary (word, passages) "
                "SELECT w, %s FROM unnest(%s::text[]) AS w "
                "ON CONFLICT (word) DO UPDATE SET passages = knowledge_vocabulary.passages + %s",
                (step, unique, step),
            )
            self._db.execute("DELETE FROM knowledge_vocabulary WHERE passages <= 0")

    def _forget(self, passage_id: str) -> bool:
        row = self._db.execute(
            "DELETE FROM knowledge_passages WHERE id = %s RETURNING words", (passage_id,)
        ).fetchone()
        if row is None:
            return False
        self._store_counts(str(row[0]).split(), -1)
        self._count_passages -= 1
        return True

    def add(self, passages: Iterable[Passage]) -> int:
        """Insert or replace passages by id; returns how many were written."""
        written = 0
        with self._lock, self._db.transaction():
            for passage in passages:
                self._forget(passage.id)
                title = " ".join(fold_words(passage.title))
                body = " ".join(fold_words(passage.text))
                words = f"{title} {body}".strip()
                self._db.execute(
                    "INSERT INTO knowledge_passages "
                    "(id, title, text, source, domain, words, terms) "
                    "VALUES (%s, %s, %s, %s, %s, %s, to_tsvector('simple', %s))",
                    (
                        passage.id,
                        passage.title,
                        passage.text,
                        passage.source,
                        passage.domain,
                        words,
                        words,
                    ),
                )
                self._store_counts(words.split(), +1)
                self._count_passages += 1
                written += 1
        return written

    def remove(self, ids: Iterable[str]) -> int:
        with self._lock, self._db.transaction():
            return sum(self._forget(passage_id) for passage_id in ids)

    def _match(self, terms: list[str], limit: int) -> list[tuple[Any, ...]]:
        # each term a quoted lexeme (a quote inside doubled), OR-ed: never the user's syntax
        query = " | ".join("'" + term.replace("'", "''") + "'" for term in terms)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, text, source, domain, words, "
                "-ts_rank(terms, to_tsquery('simple', %s)) AS score "
                "FROM knowledge_passages WHERE terms @@ to_tsquery('simple', %s) "
                "ORDER BY score LIMIT %s",
                (query, query, limit),
            ).fetchall()
            self._db.commit()
        return [tuple(row) for row in rows]

    def close(self) -> None:
        self._db.close()
