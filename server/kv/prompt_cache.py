"""The KV of recently finished answers, so the next turn of a conversation skips its past.

A chat client resends the whole conversation every turn: turn five of a chat is the system
prompt, four questions, four answers and the new question, and without a cache all of it is
prefilled again (on 2 cores about 1 ms per token). The engine keeps, for each finished
sequence, the KV its slot held (prompt and answer) in this least-recently-used store within
a byte budget; a newcomer whose prompt starts with one of them copies that KV into its slot
and prefills only the rest (llama.cpp's `cache_prompt`, vLLM's prefix caching).

Entries are partitioned by `scope` (the API key, or the client address on a server without
keys, plus the request's `cache_salt`): a prompt is only ever matched against entries of its
own scope, so how many tokens were reused, and how fast the first token came, never tell one
client what another sent (vLLM's `cache_salt`, OpenAI's per-organization caches). The byte
budget is one for all scopes; the shared system prefix is public and stays outside.

Only a whole stored sequence can be reused when its sliding-window layers have already
evicted positions; one short enough to hold every position can also give a part of itself.
That rule lives in SlotBatch (server/kv/slot_cache.py), which owns the buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persian_chat.server.kv.onnx_model import Array


@dataclass(eq=False)  # entries are found by identity: comparing arrays has no truth value
class CachedSequence:
    tokens: Array  # int64, the tokens whose KV is stored
    kv: list[Array]  # one (kv_heads, held, head_dim) per KV buffer, as SlotBuffers.copy_out
    scope: str = ""  # whose entry it is: only prompts of the same scope may reuse it

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.kv)


def common_prefix(stored: Array, prompt: Array) -> int:
    """How many leading tokens the two share."""
    n = min(stored.size, prompt.size)
    differ = np.flatnonzero(stored[:n] != prompt[:n])
    return int(differ[0]) if differ.size else n


class PromptCache:
    """Finished sequences' KV, the most recently used last, within `budget_bytes`."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.entries: list[CachedSequence] = []

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.entries)

    def add(self, tokens: list[int], kv: list[Array], scope: str = "") -> None:
        """Store a sequence; earlier turns of the same scope it extends are dropped (it holds
        them), then the least recently used entries of any scope until the budget holds."""
        entry = CachedSequence(np.array(tokens, dtype=np.int64), kv, scope)
        if not tokens or entry.nbytes > self.budget_bytes:
            return
        self.entries = [
            e
            for e in self.entries
            if not (
                e.scope == scope
                and e.tokens.size <= entry.tokens.size
                and common_prefix(e.tokens, entry.tokens) == e.tokens.size
            )
        ]
        self.entries.append(entry)
        while self.nbytes > self.budget_bytes:
            self.entries.pop(0)

    def candidates(self, prompt: list[int], scope: str = "") -> list[tuple[CachedSequence, int]]:
        """Every entry of `scope` with the number of leading prompt tokens it shares (at
        least one prompt token is always left to run, for the next-token logits)."""
        ids = np.array(prompt[:-1], dtype=np.int64)
        return [(e, common_prefix(e.tokens, ids)) for e in self.entries if e.scope == scope]

    def used(self, entry: CachedSequence) -> None:
        """Mark an entry as just used: it is evicted last."""
        self.entries.remove(entry)
        self.entries.append(entry)
