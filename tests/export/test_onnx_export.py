"""Block-wise quantization of the served graph: 8-bit everywhere, or 4-bit in chosen
MatMuls (round to nearest, HQQ or GPTQ), the rest 8-bit, still close to the fp32 graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from persian_chat.export.gqa_graph import build_gqa_graph
from persian_chat.export.onnx_export import QuantizationChoice, quantize_int8
from persian_chat.server.kv.onnx_model import load_decoder
from tests.export.test_gqa_graph import windowed_model


def bits_by_node(path: Path) -> dict[str, int]:
    model = onnx.load(str(path), load_external_data=False)
    return {
        node.name: next(a.i for a in node.attribute if a.name == "bits")
        for node in model.graph.node
        if node.op_type == "MatMulNBits"
    }


CALIBRATION = [[int(t) for t in np.random.default_rng(n).integers(3, 60, 24)] for n in range(16)]


@pytest.mark.parametrize("algorithm", ["rtn", "hqq", "gptq"])
def test_int4_goes_only_to_the_chosen_matmuls(tmp_path: Path, algorithm: str) -> None:
    fp32 = build_gqa_graph(windowed_model(window=6), tmp_path / "fp32", context_length=64)
    choice = QuantizationChoice(
        "blockwise",
        "avx2",
        int4_nodes=("gate_up", "down_proj"),
        int4_symmetric=False,
        int4_block_size=32,
        int4_algorithm=algorithm,
    )  # type: ignore[arg-type]
    path = quantize_int8(fp32.parent, tmp_path / "q", choice, CALIBRATION)
    bits = bits_by_node(path)
    mlp = {name for name in bits if "gate_up" in name or "down_proj" in name}
    assert mlp and all(bits[name] == 4 for name in mlp)
    assert all(b == 8 for name, b in bits.items() if name not in mlp) and len(bits) > len(mlp)
    assert choice.describe()["int4"]["algorithm"] == algorithm
    ids = [5, 9, 14, 20, 33, 41, 7]
    reference = load_decoder(fp32).sequence_logits(ids)
    quantized = load_decoder(path).sequence_logits(ids)
    assert quantized.shape == reference.shape
    assert np.corrcoef(quantized.ravel(), reference.ravel())[0, 1] > 0.95
