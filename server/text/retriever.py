"""Passages for a chat request: what the last user turn asks, searched in the knowledge base,
within a token budget. The prompt layer puts them in front of the question
(persian_chat.knowledge.with_passages, the layout training and evaluation use too).

A question that is a calculation (two numbers and an operation, a date to convert) gets a
passage with the exact result first (persian_chat.computed_passages): the model reads well
and computes badly.

A follow-up question often names nothing by itself («و پول رایجش؟»): when the last user turn
finds nothing, the previous user turn and the last one are searched together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from persian_chat.chat_format import Message
from persian_chat.computed_passages import computed_passages
from persian_chat.knowledge import Passage, passages_block
from persian_chat.retrieval import KnowledgeBase, ScoredSearch, load_passages

log = logging.getLogger("persian_chat.server")
PASSAGES_FILE = "passages.jsonl"


@dataclass
class Retriever:
    base: ScoredSearch
    k: int = 3
    token_budget: int = 384
    min_coverage: float = 0.4
    # a passage worked out from the question (a sum, a date in both calendars) goes first
    computed: bool = True

    def for_messages(
        self, messages: Sequence[Message], count_tokens: Callable[[str], int]
    ) -> list[Passage]:
        """The passages for the conversation's last user turn, best first, whose block
        stays within the token budget (empty: nothing relevant)."""
        users = [m["content"] for m in messages if m["role"] == "user"]
        if not users:
            return []
        hits = self.base.search(users[-1], self.k, self.min_coverage)
        if not hits and len(users) > 1:
            hits = self.base.search(f"{users[-2]} {users[-1]}", self.k, self.min_coverage)
        computed = computed_passages(users[-1]) if self.computed else []
        chosen: list[Passage] = []
        for passage in [*computed, *(hit.passage for hit in hits)][: self.k]:
            if count_tokens(passages_block([*chosen, passage])) > self.token_budget:
                break
            chosen.append(passage)
        return chosen


def knowledge_file(path: Path) -> Path:
    """A passages file, or a folder that holds one (a prepared dataset's knowledge/)."""
    return path / PASSAGES_FILE if path.is_dir() else path


def load_retriever(
    path: Path | None, k: int, token_budget: int, min_coverage: float, url: str | None = None
) -> Retriever:
    """The knowledge base of `path` indexed in memory (about half a second for 6,400
    passages on 2 cores); or the PostgreSQL one at `url`, filled from `path` when empty."""
    base: ScoredSearch
    if url is not None:
        from persian_chat.retrieval_pg import PostgresKnowledgeBase

        base = PostgresKnowledgeBase(url)
        if len(base) == 0 and path is not None:
            base.add(load_passages(knowledge_file(path)))
        log.info("knowledge base in PostgreSQL: %d passages", len(base))
    else:
        assert path is not None
        memory = KnowledgeBase()
        memory.add(load_passages(knowledge_file(path)))
        base = memory
        log.info("knowledge base %s: %d passages", path, len(base))
    return Retriever(base, k, token_budget, min_coverage)
