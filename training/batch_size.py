"""Pick a per-device batch size from free memory when the user gives none.

The estimate is deliberately simple and logged with its reason: training memory is the
weights with their gradients and AdamW state, plus activations that grow with
batch × sequence length × (layers × hidden + vocabulary) — the logits over a large vocabulary
are often the biggest single activation on small models.
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES_FP32 = 4
CANDIDATES = (16, 8, 4, 2, 1)


@dataclass(frozen=True)
class BatchChoice:
    batch_size: int
    reason: str


def estimate_sample_bytes(max_length: int, layers: int, hidden: int, vocab: int) -> int:
    """Activation bytes for one sequence: ~24 saved tensors of `hidden` per layer and token
    (attention + MLP with checkpoint-free autograd), plus logits, their softmax and grad."""
    per_token = layers * hidden * 24 + vocab * 3
    return max_length * per_token * BYTES_FP32


def choose_batch_size(
    available_bytes: int,
    trainable_params: int,
    total_params: int,
    max_length: int,
    layers: int,
    hidden: int,
    vocab: int,
    budget_share: float = 0.5,
) -> BatchChoice:
    """Largest candidate batch whose estimated memory fits in `budget_share` of free RAM."""
    fixed = total_params * BYTES_FP32 + trainable_params * BYTES_FP32 * 3  # grads + Adam m, v
    per_sample = estimate_sample_bytes(max_length, layers, hidden, vocab)
    budget = int(available_bytes * budget_share) - fixed
    for size in CANDIDATES:
        if size * per_sample <= budget:
            break
    else:
        size = 1
    gib = 1024**3
    reason = (
        f"{available_bytes / gib:.1f} GiB free, budget {budget_share:.0%}; weights+optimizer "
        f"{fixed / gib:.2f} GiB, ~{per_sample / gib:.2f} GiB activations per sequence of "
        f"{max_length} tokens -> batch {size}"
    )
    return BatchChoice(size, reason)
