"""Rows decoding in place in shared KV buffers compute what each sequence would alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import persian_chat.server.kv.slot_cache as slot_cache
from persian_chat.export.gqa_graph import build_gqa_graph
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.kv.slot_cache import GqaDecoder, SlotBatch, resident
from tests.export.test_gqa_graph import torch_logits, windowed_model


def test_rows_join_leave_and_grow_the_buffers_without_changing_a_logit(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slot_cache, "MIN_CAPACITY", 16)  # growth happens mid-test
    monkeypatch.setattr(slot_cache, "PREFILL_CHUNK", 5)  # prompts run in several chunks
    monkeypatch.setattr(slot_cache, "WINDOW_SLACK", 4)  # the sliding layer's 12-position
    # cache evicts 5 at a time: rows of ~40 tokens move and decode across evictions
    model, decoder = windowed
    rng = np.random.default_rng(0)
    prefix = [int(t) for t in rng.integers(3, 300, 6)]
    batch = SlotBatch(decoder, prefix)
    sequences = [prefix + [int(t) for t in rng.integers(3, 300, n)] for n in (3, 11, 1)]
    sequences.append([int(t) for t in rng.integers(3, 300, 4)])  # no shared prefix
    assert [batch.shared_prefix(s) for s in sequences] == [6, 6, 6, 0]
    worst = 0.0
    for sequence in sequences:
        logits = batch.prefill(sequence)
        worst = max(worst, np.abs(logits - torch_logits(model, sequence)[-1]).max())
    for step in range(24):
        tokens = [int(t) for t in rng.integers(3, 300, len(sequences))]
        logits = batch.step(tokens)
        for row, sequence in enumerate(sequences):
            sequence.append(tokens[row])
            worst = max(worst, np.abs(logits[row] - torch_logits(model, sequence)[-1]).max())
        if step == 8:  # two rows finish: the others move down to slots 0..1
            batch.remove([0, 2])
            sequences = [sequences[1], sequences[3]]
        if step == 12:  # a newcomer joins a batch that is already running
            sequences.append([*prefix, 5, 6])
            logits = batch.prefill(sequences[-1])
            worst = max(worst, np.abs(logits - torch_logits(model, sequences[-1])[-1]).max())
    assert worst < 1e-4
    assert batch.lengths == [len(s) for s in sequences]
    assert batch.buffers.capacity >= max(batch.lengths) and batch.buffers.capacity % 16 == 0


def test_resident_positions_follow_the_kernels_eviction_rule() -> None:
    assert [resident(t, capacity=12, window=8) for t in (5, 12, 13, 17, 18, 40)] == [
        5,
        12,
        8,
        12,
        8,
        10,
    ]


def test_a_long_prefix_is_shared_only_whole(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prefix longer than a windowed cache: only prompts that contain it whole reuse it
    (a part of it would need positions the cache has evicted)."""
    monkeypatch.setattr(slot_cache, "WINDOW_SLACK", 2)  # capacity 10 < the 14-token prefix
    model, decoder = windowed
    prefix = [int(t) for t in np.random.default_rng(5).integers(3, 300, 14)]
    batch = SlotBatch(decoder, prefix)
    assert batch.shared_prefix([*prefix[:9], 4, 4]) == 0
    assert batch.shared_prefix([*prefix[:9], *[4] * 10]) == 0  # longer, but leaves it at 9
    whole = [*prefix, 7, 8, 9]
    assert batch.shared_prefix(whole) == 14
    np.testing.assert_allclose(batch.prefill(whole), torch_logits(model, whole)[-1], atol=1e-4)


def test_a_prompt_is_never_taken_whole_from_the_prefix(windowed: tuple[Any, GqaDecoder]) -> None:
    """A prompt equal to the stored prefix still runs its last token (for its logits)."""
    model, decoder = windowed
    prefix = [5, 9, 14, 20]
    batch = SlotBatch(decoder, prefix)
    assert batch.shared_prefix(prefix) == 3
    np.testing.assert_allclose(batch.prefill(prefix), torch_logits(model, prefix)[-1], atol=1e-4)
    assert batch.emptied().size == 0 and batch.emptied().prefix == prefix


def test_an_empty_slot_batch_keeps_no_rows(tmp_path: Path) -> None:
    model = windowed_model(window=4)
    decoder = load_decoder(build_gqa_graph(model, tmp_path, 32))
    assert isinstance(decoder, GqaDecoder)
    batch = SlotBatch(decoder)
    assert batch.size == 0 and batch.shared_prefix([1, 2, 3]) == 0
    batch.prefill([3, 4, 5])
    batch.remove([0])
    assert batch.size == 0


def test_running_rows_step_between_a_newcomers_chunks(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunked prefill interleaved with decode steps: the other rows advance (and one
    leaves, moving the slot being filled) while a long prompt is prefilled."""
    monkeypatch.setattr(slot_cache, "PREFILL_CHUNK", 4)
    monkeypatch.setattr(slot_cache, "WINDOW_SLACK", 3)
    model, decoder = windowed
    rng = np.random.default_rng(3)
    batch = SlotBatch(decoder)
    running = [[int(t) for t in rng.integers(3, 300, n)] for n in (5, 9)]
    for sequence in running:
        batch.prefill(sequence)
    steps: list[Any] = []

    def between() -> None:
        tokens = [int(t) for t in rng.integers(3, 300, batch.size)]
        steps.append(batch.step(tokens))
        for row, sequence in enumerate(running):
            sequence.append(tokens[row])
        if len(steps) == 2:  # the first row finishes mid-prefill
            batch.remove([0])
            running.pop(0)

    newcomer = [int(t) for t in rng.integers(3, 300, 17)]  # 5 chunks: 4 steps between
    logits = batch.prefill(newcomer, between)
    assert len(steps) == 4 and batch.size == 2
    np.testing.assert_allclose(logits, torch_logits(model, newcomer)[-1], atol=1e-4)
    final = batch.step([7, 7])
    for row, sequence in enumerate([running[0], newcomer]):
        expected = torch_logits(model, [*sequence, 7])[-1]
        np.testing.assert_allclose(final[row], expected, atol=1e-4)
