"""The GroupQueryAttention graph computes what transformers' Gemma-3 computes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from persian_chat.errors import UserError
from persian_chat.export.gqa_graph import build_gqa_graph, gqa_supported
from persian_chat.server.kv.onnx_model import OnnxDecoder, load_decoder
from persian_chat.server.kv.slot_cache import GqaDecoder, SlotBuffers
from tests.conftest import tiny_gemma3_model


def windowed_model(window: int) -> Any:
    """A tiny Gemma-3 with one sliding and one global layer and a window shorter than the
    test sequences, so both attention kinds and the window's edge are exercised."""
    config = tiny_gemma3_model(300).config
    config.sliding_window = window
    config.layer_types = ["sliding_attention", "full_attention"]
    torch.manual_seed(1)
    model = type(tiny_gemma3_model(300))(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.uniform_(-0.5, 0.5)
    return model


def torch_logits(model: Any, ids: list[int]) -> Any:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, GqaDecoder]:
    model = windowed_model(window=6)
    path = build_gqa_graph(model, tmp_path_factory.mktemp("gqa"), context_length=128)
    decoder = load_decoder(path)
    assert isinstance(decoder, GqaDecoder)
    return model, decoder


def test_logits_match_pytorch_past_the_sliding_window(windowed: tuple[Any, GqaDecoder]) -> None:
    model, decoder = windowed
    ids = [int(t) for t in np.random.default_rng(0).integers(3, 300, 24)]
    np.testing.assert_allclose(decoder.sequence_logits(ids), torch_logits(model, ids), atol=1e-4)


def test_one_token_steps_in_place_match_one_full_pass(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    from persian_chat.server.kv import slot_cache

    monkeypatch.setattr(slot_cache, "WINDOW_SLACK", 2)  # the sliding layer keeps 8 of 20
    model, decoder = windowed
    assert decoder.windows == [6, 6, 0, 0]  # layer 0 slides (key, value), layer 1 is global
    ids = [int(t) for t in np.random.default_rng(1).integers(3, 300, 20)]
    expected = torch_logits(model, ids)
    buffers = SlotBuffers(decoder)
    rows = [decoder.prefill(buffers, 0, ids[:5])[-1]]
    for length in range(5, len(ids)):
        step = decoder.step(buffers, 0, np.array([[ids[length]]]), np.array([length]))
        rows.append(step[0, -1])
    np.testing.assert_allclose(np.stack(rows), expected[4:], atol=1e-4)


def test_greedy_tokens_equal_the_optimum_graph(gemma_checkpoint: Path, tmp_path: Path) -> None:
    """The optimization changes no greedy token: GQA graph vs Optimum's export, fp32."""
    from transformers import AutoModelForCausalLM

    from persian_chat.export.onnx_export import export_fp32

    model = AutoModelForCausalLM.from_pretrained(gemma_checkpoint).eval()
    gqa = load_decoder(build_gqa_graph(model, tmp_path / "gqa", context_length=256))
    optimum = OnnxDecoder(export_fp32(gemma_checkpoint, tmp_path / "optimum"))
    for prompt in ([2, 40, 41, 300, 7], [2, 9, 17, 250, 31, 77, 5, 5, 12]):
        assert gqa.greedy(prompt, 40, set()) == optimum.greedy(prompt, 40, set())


def test_models_it_cannot_express_are_named() -> None:
    config = tiny_gemma3_model(300).config
    assert gqa_supported(config)
    config.final_logit_softcapping = 30.0
    assert not gqa_supported(config)
    with pytest.raises(UserError, match="final_logit_softcapping"):
        build_gqa_graph(type(tiny_gemma3_model(300))(config), Path("unused"), 64)
