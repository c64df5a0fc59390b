"""Export a checkpoint to ONNX with Optimum (task text-generation-with-past: the graph takes
and returns the KV cache), and quantize it to dynamic int8 with ORTQuantizer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persian_chat.errors import UserError

log = logging.getLogger("persian_chat.export")


def export_fp32(model_dir: Path, output: Path) -> Path:
    """ONNX fp32 export; returns the path of model.onnx. Optimum's own validation is skipped:
    export/parity.py checks the graph against PyTorch on real prompts instead."""
    from optimum.exporters.onnx import main_export

    try:
        main_export(
            str(model_dir),
            output=str(output),
            task="text-generation-with-past",
            do_validation=False,
            local_files_only=True,
        )
    except (KeyError, ValueError, NotImplementedError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{model_dir}: Optimum cannot export this model to ONNX: {message}"
        ) from None
    path = output / "model.onnx"
    if not path.is_file():
        raise UserError(f"Optimum wrote no model.onnx into {output}")
    return path


@dataclass(frozen=True)
class QuantizationChoice:
    """Dynamic (weights int8, activations quantized at run time) int8 settings."""

    target: str  # "avx512_vnni" or "avx2"
    per_channel: bool
    reduce_range: bool

    def describe(self) -> dict[str, Any]:
        return {
            "method": "dynamic int8 (onnxruntime via optimum ORTQuantizer)",
            "target": self.target,
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "weights": "int8 symmetric",
            "activations": "uint8 asymmetric, ranges computed per call",
        }


def cpu_supports_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def default_quantization() -> QuantizationChoice:
    """VNNI CPUs use the full int8 range; older AVX2 ones need reduce_range (7-bit weights)
    because their u8*s8 multiply-add can saturate."""
    if cpu_supports_vnni():
        return QuantizationChoice("avx512_vnni", per_channel=True, reduce_range=False)
    return QuantizationChoice("avx2", per_channel=True, reduce_range=True)


def quantize_int8(onnx_dir: Path, output: Path, choice: QuantizationChoice) -> Path:
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    if choice.target == "avx512_vnni":
        config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=choice.per_channel)
    else:
        config = AutoQuantizationConfig.avx2(
            is_static=False, per_channel=choice.per_channel, reduce_range=choice.reduce_range
        )
    quantizer = ORTQuantizer.from_pretrained(str(onnx_dir), file_name="model.onnx")
    quantizer.quantize(quantization_config=config, save_dir=str(output), file_suffix=None)
    path = output / "model.onnx"
    if not path.is_file():
        raise UserError(f"ORTQuantizer wrote no model.onnx into {output}")
    return path
