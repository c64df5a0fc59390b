"""The start-up batch size: the fewest rows near the best measured rate, within memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import persian_chat.server.engine.batch_tuning as tuning
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.kv.slot_cache import WINDOW_SLACK, GqaDecoder, SlotBuffers
from persian_chat.server.text.served_model import load_served_model


def test_the_fewest_rows_within_five_percent_of_the_best_are_chosen(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, decoder = windowed
    measured = {1: 150.0, 2: 280.0, 4: 450.0, 8: 610.0, 16: 625.0}
    monkeypatch.setattr(
        tuning, "rates_by_rows", lambda d, p, sizes: {s: measured[s] for s in sizes}
    )
    assert tuning.tune_max_batch(decoder, [2, 3], 128, memory=1 << 40)[0] == 8
    one_slot = tuning.slot_bytes(decoder, 128)  # memory for 5 rows at full context
    chosen, rates = tuning.tune_max_batch(decoder, [2, 3], 128, memory=2 * 5 * one_slot)
    assert list(rates) == [1, 2, 4] and chosen == 4


def test_rates_are_measured_on_the_real_slots(windowed: tuple[Any, GqaDecoder]) -> None:
    _, decoder = windowed
    rates = tuning.rates_by_rows(decoder, [2, 3, 4], sizes=(1, 2, 4), steps=2)
    assert list(rates) == [1, 2, 4] and all(rate > 0 for rate in rates.values())
    # one row: what SlotBuffers allocates for it (every key and value buffer, the
    # full-length ones at 256 positions, the least they start with)
    buffers = SlotBuffers(decoder)
    buffers.reserve(1, 256)
    assert tuning.slot_bytes(decoder, 256) == sum(a.nbytes for a in buffers.arrays)
    assert any(w + WINDOW_SLACK != 256 for w in decoder.windows if w)  # both kinds count


def test_an_optimum_graph_keeps_the_default(tiny_served_dir: Path) -> None:
    model = load_served_model(tiny_served_dir)
    decoder = load_decoder(model.onnx_path, threads=1)
    assert tuning.tune_max_batch(decoder, None, model.context_length) == (tuning.DEFAULT, {})


def test_a_cgroup_memory_limit_caps_the_available_memory(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("1000000\n")
    (tmp_path / "memory.current").write_text("400000\n")
    assert tuning.available_memory(tmp_path) == 600000
    (tmp_path / "memory.max").write_text("max\n")
    assert tuning.available_memory(tmp_path) > 600000
