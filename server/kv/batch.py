"""The one interface the engine drives a batch's KV storage through, whatever the graph.

Two kinds implement it: the slot batch (GroupQueryAttention graphs: fixed slots, the shared
prefix and the prompt cache reused, several tokens in a step for prompt-lookup drafts) and
the padded batch (other graphs: left-padded rows, every prompt computed in full). The padded
one answers "no reuse" (`reused` stays 0, `remember` keeps nothing) and "no step-ahead"
(`can_step_ahead` is False), so the engine never asks which kind it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from persian_chat.server.kv.onnx_model import Array


class Batch(Protocol):
    """The running rows' KV storage; rows are numbered 0..size-1 in the engine's order."""

    reused: int  # prompt tokens the last prefill took from stored KV (0: computed in full)

    @property
    def size(self) -> int: ...

    def prefill(
        self, prompt: list[int], between: Callable[[], None] | None = None, scope: str = ""
    ) -> Array:
        """Add a row for `prompt` (reusing stored KV of `scope` where the kind can; calling
        `between` between chunks where it chunks); its next-token logits (vocab,)."""
        ...

    def step(self, tokens: list[int]) -> Array:
        """One new token per row; the next-token logits (rows, vocab)."""
        ...

    def remove(self, rows: list[int]) -> None:
        """Drop finished rows; the others keep their order."""
        ...

    def remember(self, row: int, tokens: list[int], scope: str = "") -> None:
        """Keep a finishing row's KV for a later prompt of `scope` (if the kind reuses)."""
        ...

    def can_step_ahead(self, tokens: int) -> bool:
        """Whether the one row may take `tokens` tokens in one step and later go back."""
        ...

    def step_ahead(self, tokens: list[int]) -> Array:
        """Several tokens for the one row in one step; logits after each (tokens, vocab)."""
        ...

    def keep_ahead(self, tokens: int) -> None:
        """Of the tokens the last step_ahead fed (or tried to), keep the first `tokens`."""
        ...

    def emptied(self) -> Batch:
        """A batch with no rows sharing this one's decoder (and stored prefix)."""
        ...

    def recovered(self) -> Batch:
        """The batch to go on with after a step raised, with no rows."""
        ...
