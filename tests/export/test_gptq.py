"""GPTQ: the levels it picks carry each row's rounding error onto the rows after it, so a
layer's output on calibration-like inputs stays nearer the float one than rounding to the
nearest level; the graph it writes follows the fp32 graph closer too."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from persian_chat.errors import UserError
from persian_chat.export.gptq import calibration_feeds, gptq_int4, gptq_levels
from persian_chat.export.gqa_graph import build_gqa_graph
from persian_chat.export.onnx_export import QuantizationChoice, int4_choice, quantize_int8
from persian_chat.server.kv.onnx_model import load_decoder
from tests.export.test_gqa_graph import windowed_model
from tests.export.test_onnx_export import CALIBRATION


def nearest(weight: np.ndarray, group: int) -> np.ndarray:
    """Round to nearest with the same per-group scales (min and max, zero included)."""
    out = np.zeros_like(weight)
    for start in range(0, weight.shape[0], group):
        part = weight[start : start + group]
        low, high = np.minimum(part.min(0), 0), np.maximum(part.max(0), 0)
        scale = (high - low) / 15
        zero = np.round(-low / scale)
        out[start : start + group] = (np.clip(np.round(part / scale) + zero, 0, 15) - zero) * scale
    return out


def test_gptq_levels_halve_the_output_error_of_rounding_to_nearest() -> None:
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(256, 8))  # two lazy blocks: the update across blocks counts
    inputs = rng.normal(size=(2000, 256)) @ rng.normal(size=(256, 256))  # correlated inputs
    levels, scales, zeros = gptq_levels(weight, inputs.T @ inputs / len(inputs), 16)
    assert levels.dtype == np.uint8 and levels.max() <= 15 and scales.shape == (16, 8)
    dequantized = (levels - np.repeat(zeros, 16, 0)) * np.repeat(scales, 16, 0)

    def error(matrix: np.ndarray) -> float:
        return float(np.mean((inputs @ (matrix - weight)) ** 2))

    assert error(dequantized) < 0.6 * error(nearest(weight, 16))
    with pytest.raises(UserError, match="blocks of 24"):
        gptq_levels(weight, np.eye(256), 24)


def test_onnxruntimes_own_gptq_is_rounding_to_nearest() -> None:
    """Why export/gptq.py has its own row updates: onnxruntime's copy of Intel Neural
    Compressor's GPTQ (pinned version) carries no error over, so its levels are exactly those
    of rounding to nearest. If this fails, onnxruntime fixed it: measure it again."""
    from onnxruntime.quantization.neural_compressor.weight_only import gptq

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(64, 8))
    inputs = rng.normal(size=(500, 64)) @ rng.normal(size=(64, 64))
    theirs = gptq(weight.copy(), inputs.T @ inputs / 500, num_bits=4, group_size=16)
    np.testing.assert_array_equal(theirs, nearest(weight, 16))


def four_bit(tmp_path: Path, fp32: Path, algorithm: Literal["rtn", "gptq"]) -> Path:
    base = QuantizationChoice("blockwise", "avx2")
    choice = int4_choice(base, ("gate_up", "down_proj"), 16, algorithm)
    return quantize_int8(fp32.parent, tmp_path / algorithm, choice, CALIBRATION)


def test_gptq_follows_the_fp32_graph_closer_than_rounding_to_nearest(tmp_path: Path) -> None:
    """GPTQ moves each column's rounding error onto the columns after it, weighted by the
    calibration activations: on prompts like those, its logits stay nearer fp32's."""
    fp32 = build_gqa_graph(windowed_model(window=6), tmp_path / "fp32", context_length=64)
    reference = load_decoder(fp32)
    errors = {}
    algorithms: tuple[Literal["rtn", "gptq"], ...] = ("rtn", "gptq")
    for algorithm in algorithms:
        quantized = load_decoder(four_bit(tmp_path, fp32, algorithm))
        errors[algorithm] = np.mean(
            [
                np.mean((quantized.sequence_logits(ids) - reference.sequence_logits(ids)) ** 2)
                for ids in CALIBRATION[:8]
            ]
        )
    assert errors["gptq"] < errors["rtn"]


def test_gptq_needs_calibration_and_names_a_missing_node(tmp_path: Path) -> None:
    fp32 = build_gqa_graph(windowed_model(window=6), tmp_path / "fp32", context_length=64)
    choice = QuantizationChoice("blockwise", "avx2", int4_nodes=(), int4_algorithm="gptq")
    with pytest.raises(UserError, match="calibration"):
        quantize_int8(fp32.parent, tmp_path / "q", choice)
    session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    feeds = calibration_feeds(session, fp32, CALIBRATION[:2])
    assert feeds[0]["input_ids"].shape == (1, 24) and int(feeds[0]["seqlens_k"][0]) == 23
    with pytest.raises(UserError, match="L99/gate_up"):
        gptq_int4(onnx.load(str(fp32)), ["L99/gate_up"], 16, CALIBRATION[:2], fp32)
