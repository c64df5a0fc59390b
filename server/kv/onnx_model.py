"""An exported decoder as onnxruntime sees it: inputs, outputs and one forward step.

Nothing here knows the architecture: the graph's own input and output names say whether it
takes position_ids, how many layers of past keys/values it carries and their shapes, so any
decoder that Optimum exports with `text-generation-with-past` works (GPT-2, Gemma-3, ...).
Only onnxruntime and numpy: this module is imported by the server, which never loads torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

Array = NDArray[Any]

if TYPE_CHECKING:
    from persian_chat.server.kv.slot_cache import GqaDecoder

Decoder: TypeAlias = "OnnxDecoder | GqaDecoder"

_PAST = re.compile(r"^past_key_values\.(\d+)\.(key|value)$")
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64}


@dataclass(frozen=True)
class CacheSpec:
    """Where each layer's past goes in and its present comes out, and the cache's shape."""

    inputs: tuple[str, ...]  # past_key_values.{i}.{key,value} in layer order
    outputs: tuple[str, ...]  # present.{i}.{key,value} in the same order
    layers: tuple[int, ...]  # the layer of each, in the same order
    kv_heads: int
    head_dim: int
    dtype: Any


def cache_spec(session: ort.InferenceSession, path: Path) -> CacheSpec:
    """The KV cache a causal-LM graph takes and returns, read from its input and output
    names (any graph: Optimum's export or export/gqa_graph.py); a clear error otherwise."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    if "input_ids" not in inputs or "logits" not in outputs:
        raise ValueError(f"{path}: not a causal LM graph (needs input_ids in, logits out)")
    pasts = sorted(
        (int(m.group(1)), m.group(2), name) for name in inputs if (m := _PAST.match(name))
    )
    if not pasts:
        raise ValueError(f"{path}: graph has no past_key_values inputs (export with-past)")
    first = inputs[pasts[0][2]]
    spec = CacheSpec(
        inputs=tuple(name for _, _, name in pasts),
        outputs=tuple(f"present.{layer}.{kind}" for layer, kind, _ in pasts),
        layers=tuple(layer for layer, _, _ in pasts),
        kv_heads=int(first.shape[1]),
        head_dim=int(first.shape[3]),
        dtype=_ORT_TYPES.get(first.type, np.float32),
    )
    missing = [name for name in spec.outputs if name not in outputs]
    if missing:
        raise ValueError(f"{path}: graph lacks outputs {', '.join(missing)}")
    return spec


def session_options(threads: int, spinning: bool = True) -> ort.SessionOptions:
    """Decoding settings (measured in benchmarks/session_options.py): one sequential graph
    run at a time on `threads` intra-op threads, all graph optimizations."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


def load_decoder(
    path: Path, threads: int = 1, options: ort.SessionOptions | None = None
) -> Decoder:
    """The decoder for a served graph: in-place KV buffers for a GroupQueryAttention graph
    (export/gqa_graph.py), the generic past/present loop for any Optimum export."""
    from persian_chat.server.kv.slot_cache import GqaDecoder, is_gqa_graph

    session = ort.InferenceSession(
        str(path),
        sess_options=options or session_options(threads),
        providers=["CPUExecutionProvider"],
    )
    return (
        GqaDecoder(session, path) if is_gqa_graph(session) else OnnxDecoder(path, session=session)
    )


class OnnxDecoder:
    """A causal LM exported with KV cache: `step` runs the graph once."""

    def __init__(
        self,
        path: Path,
        threads: int = 1,
        options: ort.SessionOptions | None = None,
        session: ort.InferenceSession | None = None,
    ) -> None:
        self.session = session or ort.InferenceSession(
            str(path),
            sess_options=options or session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        inputs = {i.name for i in self.session.get_inputs()}
        self.has_attention_mask = "attention_mask" in inputs
        self.has_position_ids = "position_ids" in inputs
        self.cache = cache_spec(self.session, path)
        self.output_names = ["logits", *self.cache.outputs]

    @property
    def can_batch(self) -> bool:
        """Rows of different lengths share a left-padded batch only with explicit positions."""
        return self.has_position_ids

    def empty_cache(self, batch: int) -> list[Array]:
        shape = (batch, self.cache.kv_heads, 0, self.cache.head_dim)
        return [np.zeros(shape, dtype=self.cache.dtype) for _ in self.cache.inputs]

    def step(
        self,
        input_ids: Array,
        attention_mask: Array,
        past: list[Array],
        position_ids: Array | None = None,
    ) -> tuple[Array, list[Array]]:
        """Logits for `input_ids` (batch, new) given `past`; the mask covers past + new."""
        feed: dict[str, Array] = {"input_ids": input_ids.astype(np.int64)}
        if self.has_attention_mask:
            feed["attention_mask"] = attention_mask.astype(np.int64)
        if self.has_position_ids:
            if position_ids is None:
                positions = np.cumsum(attention_mask, axis=1) - 1
                position_ids = np.maximum(positions, 0)[:, -input_ids.shape[1] :]
            feed["position_ids"] = position_ids.astype(np.int64)
        feed.update(zip(self.cache.inputs, past, strict=True))
        logits, *present = self.session.run(self.output_names, feed)
        return logits, present

    def greedy(self, prompt: list[int], max_new_tokens: int, stop_ids: set[int]) -> list[int]:
        """Greedy continuation of one prompt: prefill once, then one token per step."""
        ids = np.array([prompt], dtype=np.int64)
        mask = np.ones_like(ids)
        logits, past = self.step(ids, mask, self.empty_cache(1))
        out: list[int] = []
        for _ in range(max_new_tokens):
            token = int(np.argmax(logits[0, -1]))
            out.append(token)
            if token in stop_ids:
                break
            mask = np.concatenate([mask, np.ones((1, 1), dtype=np.int64)], axis=1)
            logits, past = self.step(np.array([[token]], dtype=np.int64), mask, past)
        return out

    def sequence_logits(self, ids: list[int]) -> Array:
        """Logits for every position of `ids` in one pass (no cache), shape (len, vocab)."""
        array = np.array([ids], dtype=np.int64)
        logits, _ = self.step(array, np.ones_like(array), self.empty_cache(1))
        return np.asarray(logits[0])
