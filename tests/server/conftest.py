"""Fixtures shared by the server tests."""

from __future__ import annotations

from typing import Any

import pytest

from persian_chat.export.gqa_graph import build_gqa_graph
from persian_chat.server.onnx_model import load_decoder
from persian_chat.server.slot_cache import GqaDecoder
from tests.export.test_gqa_graph import windowed_model


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, GqaDecoder]:
    """A tiny Gemma-3 with a sliding window of 8 and its GroupQueryAttention decoder."""
    model = windowed_model(window=8)
    decoder = load_decoder(build_gqa_graph(model, tmp_path_factory.mktemp("gqa"), 128))
    assert isinstance(decoder, GqaDecoder)
    return model, decoder
