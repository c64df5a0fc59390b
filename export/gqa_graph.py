"""Build Gemma-3's decoder as an ONNX graph around onnxruntime's GroupQueryAttention.

Optimum's export writes attention as dozens of small ops and returns a new `present` tensor
per layer at every step (past concatenated with the new key), so decoding copies the whole
KV cache once per token. GroupQueryAttention (the op onnxruntime-genai's model builder emits)
does attention, rotary embedding and the sliding window in one kernel and writes the new
keys into the past buffer in place when past and present are bound to the same memory
(`server/kv/slot_cache.py`). The graph is written here from the checkpoint's weights, op for op
what `Gemma3ForCausalLM` computes; export/parity.py checks it against PyTorch.

Inputs: `input_ids` (batch, new), `seqlens_k` (batch,) = tokens in the row after this step
- 1, `total_sequence_length` (scalar) = the largest of those + 1, and per layer
`past_key_values.{i}.{key,value}` (batch, kv_heads, capacity, head_dim). Each row's keys
occupy the first positions of its buffer (right-padded), so rows of different lengths
share a batch without padding tokens or masks. The sliding-window layers' buffers hold only
a window's worth (`sliding_window_cache`: the kernel evicts the oldest positions itself), so
their attention costs the same at 4,000 tokens of context as at 512.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from persian_chat.errors import UserError
from persian_chat.server.kv.slot_cache import SLIDING_WINDOW_KEY, WINDOWED_LAYERS_KEY

OPSET = 21
SUPPORTED = ("gemma3_text",)


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def constant(self, name: str, array: np.ndarray[Any, Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(
        self, op: str, inputs: list[str], name: str, outputs: int | list[str] = 1, **attrs: Any
    ) -> list[str]:
        from onnx import helper

        names = [f"{name}/out{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
        domain = "com.microsoft" if op in ("GroupQueryAttention", "FastGelu") else ""
        self.nodes.append(helper.make_node(op, inputs, names, name=name, domain=domain, **attrs))
        return names


def _rotary_caches(theta: float, head_dim: int, length: int) -> tuple[Any, Any]:
    """cos/sin (length, head_dim / 2) in float32, as transformers computes them."""
    import torch

    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    positions = torch.arange(length, dtype=torch.float32)
    angles = torch.outer(positions, inv_freq)
    return angles.cos().numpy(), angles.sin().numpy()


def unsupported(config: Any) -> str | None:
    """Why this graph cannot express the model (None: it can)."""
    if config.model_type not in SUPPORTED:
        return f"model type {config.model_type} (supported: {', '.join(SUPPORTED)})"
    for name in ("rope_scaling", "attn_logit_softcapping", "final_logit_softcapping"):
        if getattr(config, name, None):
            return f"{name} is set"
    return None


def gqa_supported(config: Any) -> bool:
    return unsupported(config) is None


def build_gqa_graph(model: Any, output: Path, context_length: int) -> Path:
    """Write model.onnx (fp32, one file) for a Gemma-3 causal LM; returns its path.
    `context_length` sizes the rotary tables: the longest sequence the graph can run."""
    import onnx
    import torch
    from onnx import TensorProto, helper

    config = model.config
    if (reason := unsupported(config)) is not None:
        raise UserError(f"cannot write a GroupQueryAttention graph: {reason}")
    weights = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    heads, kv_heads, head_dim = (
        config.num_attention_heads,
        config.num_key_value_heads,
        config.head_dim,
    )
    hidden, eps = config.hidden_size, float(config.rms_norm_eps)
    g = _Graph()

    def norm(x: str, weight: str, name: str) -> str:
        gamma = g.constant(f"{weight}.gamma", 1.0 + weights[weight])  # Gemma: x * (1 + w)
        return g.node("SimplifiedLayerNormalization", [x, gamma], name, axis=-1, epsilon=eps)[0]

    def matmul(x: str, w: np.ndarray[Any, Any], name: str) -> str:
        return g.node("MatMul", [x, g.constant(f"{name}.weight", w)], name)[0]

    caches = {}
    for kind, theta in (("local", config.rope_local_base_freq), ("global", config.rope_theta)):
        cos, sin = _rotary_caches(float(theta), head_dim, context_length)
        caches[kind] = (g.constant(f"cos_{kind}", cos), g.constant(f"sin_{kind}", sin))
    head_shape = g.constant("head_shape", np.array([0, 0, -1, head_dim], dtype=np.int64))
    flat_shape = g.constant("flat_shape", np.array([0, 0, -1], dtype=np.int64))

    embed = weights["model.embed_tokens.weight"]
    scale = np.float32(hidden**0.5)  # Gemma3TextScaledWordEmbedding, same float32 product
    table = g.constant("embed_tokens.scaled", embed * scale)
    h = g.node("Gather", [table, "input_ids"], "embed")[0]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, []),
    ]
    outputs: list[Any] = []
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * len(
        model.model.layers
    )
    for i, layer_type in enumerate(layer_types):
        p = f"model.layers.{i}"
        x = norm(h, f"{p}.input_layernorm.weight", f"L{i}/input_norm")
        qkv_weight = np.concatenate(
            [weights[f"{p}.self_attn.{n}_proj.weight"] for n in ("q", "k", "v")], axis=0
        ).T
        qkv = matmul(x, qkv_weight, f"L{i}/qkv")
        sizes = g.constant(
            f"L{i}/qkv_sizes",
            np.array([heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], dtype=np.int64),
        )
        q, k, v = g.node("Split", [qkv, sizes], f"L{i}/split", 3, axis=-1)
        q = g.node("Reshape", [q, head_shape], f"L{i}/q_heads")[0]
        q = norm(q, f"{p}.self_attn.q_norm.weight", f"L{i}/q_norm")
        q = g.node("Reshape", [q, flat_shape], f"L{i}/q_flat")[0]
        k = g.node("Reshape", [k, head_shape], f"L{i}/k_heads")[0]
        k = norm(k, f"{p}.self_attn.k_norm.weight", f"L{i}/k_norm")
        k = g.node("Reshape", [k, flat_shape], f"L{i}/k_flat")[0]
        past = [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present = [f"present.{i}.key", f"present.{i}.value"]
        for names, values, length in ((past, inputs, "past"), (present, outputs, "present")):
            shape: list[Any] = ["batch", kv_heads, f"{length}_sequence", head_dim]
            values += [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in names]
        sliding = layer_type == "sliding_attention"
        cos, sin = caches["local" if sliding else "global"]
        attention, *_ = g.node(
            "GroupQueryAttention",
            [q, k, v, *past, "seqlens_k", "total_sequence_length", cos, sin],
            f"L{i}/attention",
            [f"L{i}/attention/out", *present],
            num_heads=heads,
            kv_num_heads=kv_heads,
            scale=float(config.query_pre_attn_scalar) ** -0.5,
            # checked against transformers (tests/export/test_gqa_graph.py): the same keys
            # are visible with local_window_size = sliding_window
            local_window_size=int(config.sliding_window) if sliding else -1,
            # the sliding layers' past is window-sized: the kernel keeps the latest positions
            # and never reads (or stores) the older ones (server/kv/slot_cache.py sizes it)
            **({"sliding_window_cache": 1} if sliding else {}),
            do_rotary=1,
            rotary_interleaved=0,
        )
        o = matmul(attention, weights[f"{p}.self_attn.o_proj.weight"].T, f"L{i}/o_proj")
        o = norm(o, f"{p}.post_attention_layernorm.weight", f"L{i}/post_attention_norm")
        h = g.node("Add", [h, o], f"L{i}/attention_residual")[0]
        x = norm(h, f"{p}.pre_feedforward_layernorm.weight", f"L{i}/pre_feedforward_norm")
        gate_up_weight = np.concatenate(
            [weights[f"{p}.mlp.gate_proj.weight"], weights[f"{p}.mlp.up_proj.weight"]], axis=0
        ).T
        gate_up = matmul(x, gate_up_weight, f"L{i}/gate_up")
        gate, up = g.node("Split", [gate_up], f"L{i}/gate_up_split", 2, axis=-1, num_outputs=2)
        gate = g.node("FastGelu", [gate], f"L{i}/gelu")[0]  # gelu_pytorch_tanh
        m = g.node("Mul", [gate, up], f"L{i}/gated")[0]
        d = matmul(m, weights[f"{p}.mlp.down_proj.weight"].T, f"L{i}/down_proj")
        d = norm(d, f"{p}.post_feedforward_layernorm.weight", f"L{i}/post_feedforward_norm")
        h = g.node("Add", [h, d], f"L{i}/mlp_residual")[0]
    h = norm(h, "model.norm.weight", "final_norm")
    head = weights.get("lm_head.weight", embed)  # tied to the embedding in Gemma-3
    g.node("MatMul", [h, g.constant("lm_head.weight", head.T)], "lm_head", ["logits"])
    outputs.insert(
        0,
        helper.make_tensor_value_info(
            "logits", TensorProto.FLOAT, ["batch", "sequence", head.shape[0]]
        ),
    )

    graph = helper.make_graph(g.nodes, "persian-chat-gqa", inputs, outputs, g.initializers)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    onnx_model = helper.make_model(graph, opset_imports=opsets, producer_name="persian-chat")
    windowed = [i for i, kind in enumerate(layer_types) if kind == "sliding_attention"]
    helper.set_model_props(
        onnx_model,
        {
            SLIDING_WINDOW_KEY: str(int(config.sliding_window)) if windowed else "0",
            WINDOWED_LAYERS_KEY: ",".join(map(str, windowed)),
        },
    )
    onnx_model.ir_version = 10
    output.mkdir(parents=True, exist_ok=True)
    path = output / "model.onnx"
    onnx.save(onnx_model, str(path))
    return path
