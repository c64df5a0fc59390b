"""The KV cache of a changing batch of sequences, left-padded to one length.

Continuous batching needs sequences of different lengths in one `session.run`. Each row of
the cache is left-padded: padding columns are masked out (attention_mask 0) and position ids
count only a row's real tokens, so a row computes exactly what its sequence would alone.
Rows join (after their own prefill) and leave at step boundaries; copies happen only then,
and padding columns no row needs any more are cut off.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from persian_chat.server.kv.onnx_model import Array, OnnxDecoder


def _left_pad(array: Array, length: int) -> Array:
    """Pad axis 2 (the sequence axis of a KV tensor) on the left to `length`."""
    missing = length - array.shape[2]
    if missing <= 0:
        return array
    pad = np.zeros((*array.shape[:2], missing, *array.shape[3:]), dtype=array.dtype)
    return np.concatenate([pad, array], axis=2)


class KVBatch:
    """Past keys/values (batch, heads, length, dim) per layer plus the matching mask: a
    kv.batch.Batch that reuses nothing and never steps ahead."""

    reused = 0  # every prompt is computed in full

    def __init__(self, decoder: OnnxDecoder) -> None:
        self.decoder = decoder
        self.past: list[Array] = decoder.empty_cache(0)
        self.mask: Array = np.zeros((0, 0), dtype=np.int64)

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def length(self) -> int:
        return int(self.mask.shape[1])

    def add(self, past: list[Array]) -> None:
        """Append one prefilled sequence (its cache has batch 1 and no padding) as a new row."""
        own = int(past[0].shape[2])
        length = max(own, self.length)
        row_mask = np.zeros((1, length), dtype=np.int64)
        row_mask[0, length - own :] = 1
        old_mask = np.pad(self.mask, ((0, 0), (length - self.length, 0)))
        self.mask = np.concatenate([old_mask, row_mask], axis=0)
        self.past = [
            np.concatenate([_left_pad(rows, length), _left_pad(row, length)], axis=0)
            for rows, row in zip(self.past, past, strict=True)
        ]

    def prefill(
        self, prompt: list[int], between: Callable[[], None] | None = None, scope: str = ""
    ) -> Array:
        """Run a newcomer's prompt alone (batch 1: it costs exactly its own tokens) and add
        it as a row; returns its next-token logits (vocab,). The whole prompt runs in one
        pass (`between` and `scope` are for the chunked, cached SlotBatch: unused here)."""
        ids = np.array([prompt], dtype=np.int64)
        logits, past = self.decoder.step(ids, np.ones_like(ids), self.decoder.empty_cache(1))
        self.add(past)
        return np.asarray(logits[0, -1])

    def remove(self, rows: list[int]) -> None:
        """Drop rows (sequences that finished), then the columns only they needed."""
        if not rows:
            return
        keep = np.array([i for i in range(self.size) if i not in set(rows)], dtype=np.int64)
        self.mask = self.mask[keep]
        self.past = [layer[keep] for layer in self.past]
        used = np.flatnonzero(self.mask.any(axis=0))
        start = int(used[0]) if used.size else self.length
        if start:
            self.mask = self.mask[:, start:]
            self.past = [layer[:, :, start:] for layer in self.past]

    def step(self, tokens: list[int]) -> Array:
        """Feed one new token per row; returns the next-token logits (batch, vocab)."""
        self.mask = np.concatenate([self.mask, np.ones((self.size, 1), dtype=np.int64)], axis=1)
        positions = self.mask.sum(axis=1, keepdims=True) - 1
        ids = np.array(tokens, dtype=np.int64).reshape(-1, 1)
        logits, self.past = self.decoder.step(ids, self.mask, self.past, positions)
        return np.asarray(logits[:, -1])

    def remember(self, row: int, tokens: list[int], scope: str = "") -> None:
        """Nothing is kept: a padded batch has no prompt cache."""

    def can_step_ahead(self, tokens: int) -> bool:
        return False  # several tokens with a past need the GroupQueryAttention graph

    def step_ahead(self, tokens: list[int]) -> Array:
        raise NotImplementedError("a padded batch never steps ahead (can_step_ahead is False)")

    def keep_ahead(self, tokens: int) -> None:
        raise NotImplementedError("a padded batch never steps ahead (can_step_ahead is False)")

    def emptied(self) -> KVBatch:
        return KVBatch(self.decoder)

    def recovered(self) -> KVBatch:
        """A new batch: a failed step may have left the mask a column ahead of the cache."""
        return KVBatch(self.decoder)
