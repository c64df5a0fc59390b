"""Export a checkpoint to ONNX with Optimum (task text-generation-with-past: the graph takes
and returns the KV cache), and quantize it to dynamic int8 with ORTQuantizer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from persian_chat.errors import UserError

log = logging.getLogger("persian_chat.export")


TASK = "text-generation-with-past"


def _config_with_position_ids(model_dir: Path) -> Any:
    """Optimum's export config for this architecture, plus a `position_ids` input.

    Optimum gives GPT-2-like graphs a position_ids input but not Gemma's: those graphs count
    positions from the cache length, which is wrong for a left-padded row of a batch whose
    other rows are longer. With explicit positions, the server's continuous batching gives
    every sequence exactly the positions it would have alone.
    """
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    constructor = TasksManager.get_exporter_config_constructor(
        exporter="onnx", model_type=config.model_type, task=TASK, library_name="transformers"
    )
    base = getattr(constructor, "func", constructor)

    class WithPositionIds(base):  # type: ignore[misc, valid-type]
        @property
        def inputs(self) -> dict[str, dict[int, str]]:
            inputs: dict[str, dict[int, str]] = super().inputs
            inputs.setdefault("position_ids", {0: "batch_size", 1: "sequence_length"})
            return inputs

    return WithPositionIds(config, task=TASK, use_past=True, use_past_in_inputs=True)


def export_fp32(model_dir: Path, output: Path) -> Path:
    """ONNX fp32 export with a position_ids input; returns the path of model.onnx. Optimum's
    own validation is skipped: export/parity.py checks the graph against PyTorch instead."""
    from optimum.exporters.onnx import main_export

    try:
        main_export(
            str(model_dir),
            output=str(output),
            task=TASK,
            do_validation=False,
            local_files_only=True,
            custom_onnx_configs={"model": _config_with_position_ids(model_dir)},
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
    """How the int8 graph is made.

    - "blockwise" (default): onnxruntime's MatMulNBits with 8-bit weights in blocks of
      `block_size` along the input dimension, symmetric, and int8 compute
      (accuracy_level 4: activations quantized per block at run time). Every MatMul with a
      constant weight is quantized, the tied output layer included.
    - "dynamic": Optimum's ORTQuantizer dynamic int8 (QOperator MatMulInteger): weights int8
      per channel (`per_channel`) or per tensor, activations uint8 with one range per tensor
      computed at run time; `reduce_range` uses 7-bit weights for AVX2 CPUs without VNNI.
      Only weight MatMuls are quantized: the attention and rotary-embedding MatMuls multiply
      two activations and int8 there destroys the model.
    benchmarks/quantization.py measures both on the real model.
    """

    method: Literal["blockwise", "dynamic"]
    target: str  # the CPU the settings suit: "avx512_vnni" or "avx2"
    per_channel: bool = True
    reduce_range: bool = False
    block_size: int = 128  # measured: +1.2% perplexity vs +0.4% at 32, 23% faster decoding
    # int4 (measured in benchmarks/quantization.py, not a default): 4-bit blocks for the
    # MatMuls whose names contain one of `int4_nodes` ("" = every one), the rest 8-bit
    int4_nodes: tuple[str, ...] | None = None
    int4_symmetric: bool = True
    int4_block_size: int = 16
    # round to nearest, HQQ's fitted scales, or GPTQ on calibration prompts (export/gptq.py)
    int4_algorithm: Literal["rtn", "hqq", "gptq"] = "rtn"

    def describe(self) -> dict[str, Any]:
        if self.method == "blockwise":
            int4 = (
                {}
                if self.int4_nodes is None
                else {
                    "int4": {
                        "nodes": list(self.int4_nodes) or "all",
                        "symmetric": self.int4_symmetric,
                        "block_size": self.int4_block_size,
                        "algorithm": self.int4_algorithm,
                    }
                }
            )
            return {
                **int4,
                "method": "weight-only int8, block-wise (onnxruntime MatMulNBits)",
                "bits": 8,
                "block_size": self.block_size,
                "symmetric": True,
                "accuracy_level": 4,
                "compute": "int8 (activations quantized per block at run time)",
                "target": self.target,
            }
        return {
            "method": "dynamic int8 (optimum ORTQuantizer, MatMulInteger)",
            "target": self.target,
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "weights": "int8 symmetric",
            "activations": "uint8 asymmetric, one range per tensor, computed per call",
        }


INT4_MAX_PERPLEXITY_INCREASE = 0.03  # the gate an int4 graph must pass to be served
# The int4 graph `export --int4` adds beside the int8 one: 4-bit weights (asymmetric, blocks
# of 32) in the MLP's gate/up projection only, chosen by GPTQ on training prompts
# (export/gptq.py), the rest int8 — in benchmarks/quantization.py on the reference model
# +2.2% perplexity over fp32 (round to nearest: +8.2%; blocks of 16 +1.9% with GPTQ, but the
# 4-bit kernels are slower on them; the whole MLP +3.6%). It is served only where its
# measured perplexity passes the gate.
INT4_NODES: tuple[str, ...] = ("gate_up",)


INT4_BLOCK = 32
INT4_ALGORITHM: Literal["rtn", "hqq", "gptq"] = "gptq"


def int4_choice(
    base: QuantizationChoice,
    nodes: tuple[str, ...] = INT4_NODES,
    block: int = INT4_BLOCK,
    algorithm: Literal["rtn", "hqq", "gptq"] = INT4_ALGORITHM,
) -> QuantizationChoice:
    """`base` with asymmetric 4-bit blocks in the MatMuls whose names contain one of
    `nodes` (`bench quantization --mixed` finds a set of layers for a model: its result's
    `mixed.nodes`), chosen by `algorithm`."""
    return replace(
        base,
        int4_nodes=nodes,
        int4_symmetric=False,
        int4_block_size=block,
        int4_algorithm=algorithm,
    )


def cpu_supports_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def default_quantization(
    method: Literal["blockwise", "dynamic"] = "blockwise",
) -> QuantizationChoice:
    """VNNI CPUs use the full int8 range; older AVX2 ones need reduce_range (7-bit weights)
    because their u8*s8 multiply-add can saturate (this matters for "dynamic" only)."""
    if cpu_supports_vnni():
        return QuantizationChoice(method, "avx512_vnni", per_channel=True, reduce_range=False)
    return QuantizationChoice(method, "avx2", per_channel=True, reduce_range=True)


def weight_matmuls(onnx_path: Path) -> tuple[list[str], list[str]]:
    """(MatMul nodes with a constant weight, MatMul nodes of two activations)."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}
    weights: list[str] = []
    activations: list[str] = []
    for node in graph.node:
        if node.op_type == "MatMul":
            has_weight = node.input[1] in constants or node.input[0] in constants
            (weights if has_weight else activations).append(node.name)
    return weights, activations


def gemm_to_matmul(model: Any) -> int:
    """Rewrite Gemm(A, W[, C]) with a constant W (GPT-2's projections) as MatMul(A, W) + C,
    so the MatMulNBits quantizer, which only takes MatMul, quantizes them too."""
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    rewritten = 0
    for index, node in reversed(list(enumerate(graph.node))):
        if node.op_type != "Gemm" or node.input[1] not in constants:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (
            attrs.get("alpha", 1.0) != 1.0
            or attrs.get("beta", 1.0) != 1.0
            or attrs.get("transA", 0)
        ):
            continue
        weight = node.input[1]
        if attrs.get("transB", 0):
            array = numpy_helper.to_array(constants[weight]).T.copy()
            weight = f"{weight}_transposed"
            graph.initializer.append(numpy_helper.from_array(array, weight))
        has_bias = len(node.input) > 2 and node.input[2]
        product = f"{node.output[0]}_matmul" if has_bias else node.output[0]
        new = [
            helper.make_node(
                "MatMul", [node.input[0], weight], [product], name=f"{node.name}_MatMul"
            )
        ]
        if has_bias:
            new.append(
                helper.make_node(
                    "Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}_Add"
                )
            )
        del graph.node[index]
        for offset, created in enumerate(new):
            graph.node.insert(index + offset, created)
        rewritten += 1
    return rewritten


def fold_transposed_weights(model: Any) -> int:
    """Give MatMul(x, Transpose(W)) with a constant W (GPT-2's output layer, tied to the
    embedding) its own transposed constant, so the quantizer sees a constant weight: left as
    is, GPT-2-small's 154 MB fp32 output layer is read at every decoding step."""
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    transposes = {
        node.output[0]: node
        for node in graph.node
        if node.op_type == "Transpose" and node.input[0] in constants
    }
    folded = 0
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in transposes:
            continue
        transpose = transposes[node.input[1]]
        perm = next(
            (helper.get_attribute_value(a) for a in transpose.attribute if a.name == "perm"), None
        )
        array = numpy_helper.to_array(constants[transpose.input[0]])
        if array.ndim != 2 or (perm is not None and list(perm) != [1, 0]):
            continue
        name = f"{transpose.input[0]}_transposed_for_{node.name}"
        graph.initializer.append(numpy_helper.from_array(array.T.copy(), name))
        node.input[1] = name
        folded += 1
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for transpose in transposes.values():
        if transpose.output[0] not in used:
            graph.node.remove(transpose)
    return folded


def quantize_int8(
    onnx_dir: Path,
    output: Path,
    choice: QuantizationChoice,
    calibration: list[list[int]] | None = None,
) -> Path:
    """Quantize onnx_dir/model.onnx into output/model.onnx as `choice` says; GPTQ's int4
    needs `calibration`, token ids of prompts from the training set (export/gptq.py)."""
    if choice.int4_algorithm == "gptq" and not calibration:
        raise UserError("int4 with GPTQ needs calibration prompts (token ids)")
    output.mkdir(parents=True, exist_ok=True)
    path = output / "model.onnx"
    if choice.method == "blockwise":
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            HQQWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        def quantize(
            model: Any, bits: int, block: int, symmetric: bool, skip: list[str], hqq: bool = False
        ) -> Any:
            config: Any = (
                HQQWeightOnlyQuantConfig(block_size=block, bits=bits)
                if hqq
                else DefaultWeightOnlyQuantConfig(
                    block_size=block, is_symmetric=symmetric, accuracy_level=4, bits=bits
                )
            )
            quantizer = MatMulNBitsQuantizer(
                model,
                bits=bits,
                block_size=block,
                is_symmetric=symmetric,
                accuracy_level=4,
                algo_config=config,
                nodes_to_exclude=skip,
            )
            quantizer.process()
            return quantizer.model

        model = onnx.load(str(onnx_dir / "model.onnx"))
        gemm_to_matmul(model)
        fold_transposed_weights(model)
        if choice.int4_nodes is not None:
            matmuls = [node.name for node in model.graph.node if node.op_type == "MatMul"]
            wanted = choice.int4_nodes
            skip = [n for n in matmuls if wanted and not any(part in n for part in wanted)]
            if choice.int4_algorithm == "gptq":
                from persian_chat.export.gptq import gptq_int4

                four = [n for n in matmuls if n not in skip]
                source = onnx_dir / "model.onnx"
                model = gptq_int4(model, four, choice.int4_block_size, calibration or [], source)
            else:
                model = quantize(
                    model,
                    4,
                    choice.int4_block_size,
                    choice.int4_symmetric,
                    skip,
                    choice.int4_algorithm == "hqq",
                ).model
        quantized = quantize(model, 8, choice.block_size, True, [])
        quantized.save_model_to_file(str(path), use_external_data_format=False)
    else:
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoQuantizationConfig

        _, activation_matmuls = weight_matmuls(onnx_dir / "model.onnx")
        options: dict[str, Any] = {
            "is_static": False,
            "per_channel": choice.per_channel,
            "operators_to_quantize": ["MatMul"],
            "nodes_to_exclude": activation_matmuls,
        }
        if choice.target == "avx512_vnni":
            config = AutoQuantizationConfig.avx512_vnni(**options)
        else:
            config = AutoQuantizationConfig.avx2(reduce_range=choice.reduce_range, **options)
        quantizer = ORTQuantizer.from_pretrained(str(onnx_dir), file_name="model.onnx")
        quantizer.quantize(quantization_config=config, save_dir=str(output), file_suffix=None)
    if not path.is_file():
        raise UserError(f"quantization wrote no model.onnx into {output}")
    return path
