"""A GroupQueryAttention graph (export/gqa_graph.py) decoding in place in preallocated KV
buffers: no KV tensor is allocated, concatenated or copied per step.

Each sequence of a batch owns a slot: one row of every layer's key and value buffer
(slots, kv_heads, capacity, head_dim). The graph's past and present are bound to the same
memory (IO binding), and GroupQueryAttention writes the new keys after a row's own length,
so rows of different lengths decode together without padding. Rows are kept in slots
0..n-1, so a batch step binds one contiguous leading slice of each buffer. Full-length
buffers grow by doubling; the sliding-window layers' buffers are window-sized and the kernel
evicts their oldest positions itself. The only copies are that growth and compaction when a
row leaves (the rows after it move down).

This module needs only onnxruntime and numpy (the server never imports torch).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from persian_chat.server.kv.onnx_model import Array, cache_spec
from persian_chat.server.kv.prompt_cache import PromptCache, common_prefix

SLIDING_WINDOW_KEY = "persian_chat.sliding_window"  # written by export/gqa_graph.py
WINDOWED_LAYERS_KEY = "persian_chat.windowed_layers"
MIN_CAPACITY = 256  # positions allocated at first; doubled when a row needs more. Pages are
# touched only where rows write, so resident memory follows the rows' lengths
WINDOW_SLACK = 256  # a sliding layer's cache holds window + this; evicts this many at once
PREFILL_CHUNK = 128  # prompt tokens per graph run: the most a newcomer delays a decode step


def is_gqa_graph(session: ort.InferenceSession) -> bool:
    return any(i.name == "seqlens_k" for i in session.get_inputs())


def resident(total: int, capacity: int, window: int) -> int:
    """Positions a window-sized cache of `capacity` holds after `total` tokens: all of them
    up to the capacity, then GroupQueryAttention evicts `capacity - window + 1` at a time
    (its documented contract, the same whichever way the tokens were split into steps)."""
    if total <= capacity:
        return total
    evict = capacity - window + 1
    return total - evict * -(-(total - capacity) // evict)


class SlotBuffers:
    """Every layer's key and value buffer (slots, kv_heads, capacity, head_dim), and the
    IO bindings of the graph to slices of them. The sliding-window layers' buffers have a
    fixed capacity of window + WINDOW_SLACK positions; the others grow by doubling."""

    def __init__(self, decoder: GqaDecoder) -> None:
        self.decoder = decoder
        self.arrays: list[Array] = []
        self.slots = 0
        self.capacity = 0  # of the full-length buffers
        self.totals: list[int] = []  # tokens each slot has taken (what growth must copy)
        self._bound: dict[tuple[int, int], ort.IOBinding] = {}

    def reserve(self, slots: int, length: int) -> None:
        """Make room for `slots` rows of `length` positions, keeping what is stored."""
        if slots <= self.slots and length <= self.capacity:
            return
        new_slots = max(self.slots, 1)
        while new_slots < slots:  # doubling: rows joining one by one copy the rest rarely
            new_slots *= 2
        capacity = max(self.capacity, MIN_CAPACITY)
        while capacity < length:
            capacity *= 2
        grown = []
        for index in range(len(self.decoder.past_names)):
            shape = (
                new_slots,
                self.decoder.kv_heads,
                self.decoder.positions(index, capacity),
                self.decoder.head_dim,
            )
            new = np.zeros(shape, dtype=np.float32)  # pages stay untouched until written
            for slot, total in enumerate(self.totals if self.arrays else []):
                held = self._resident(index, total)  # copy what rows hold, not the zeros
                new[slot, :, :held] = self.arrays[index][slot, :, :held]
            grown.append(new)
        self.arrays, self.slots, self.capacity = grown, new_slots, capacity
        self.totals += [0] * (new_slots - len(self.totals))
        self._bound.clear()

    def _resident(self, index: int, total: int) -> int:
        window = self.decoder.windows[index]
        return resident(total, window + WINDOW_SLACK, window) if window else total

    def move(self, source: int, target: int, total: int) -> None:
        """Copy what a row holds after `total` tokens into another slot."""
        for index, array in enumerate(self.arrays):
            held = self._resident(index, total)
            array[target, :, :held] = array[source, :, :held]
        self.totals[target] = total

    def copy_in(self, target: int, keys_values: list[Array], total: int) -> None:
        """Write what copy_out(…, total) returned into a slot, which then holds those tokens."""
        for array, values in zip(self.arrays, keys_values, strict=True):
            array[target, :, : values.shape[1]] = values
        self.totals[target] = total

    def copy_out(self, source: int, total: int) -> list[Array]:
        """What a row holds after `total` tokens, one (kv_heads, held, head_dim) per buffer."""
        return [
            array[source, :, : self._resident(index, total)].copy()
            for index, array in enumerate(self.arrays)
        ]

    def binding(self, first: int, count: int) -> ort.IOBinding:
        """Past and present bound to the same slice of each buffer (cached per slice)."""
        binding = self._bound.get((first, count))
        if binding is None:
            decoder = self.decoder
            binding = decoder.session.io_binding()
            for past, present, array in zip(
                decoder.past_names, decoder.present_names, self.arrays, strict=True
            ):
                value = ort.OrtValue.ortvalue_from_numpy(array[first : first + count])
                binding.bind_ortvalue_input(past, value)
                binding.bind_ortvalue_output(present, value)
            self._bound[(first, count)] = binding
        return binding


class GqaDecoder:
    """The session and one forward step over a range of slots of some SlotBuffers."""

    def __init__(self, session: ort.InferenceSession, path: Path) -> None:
        self.session = session
        cache = cache_spec(session, path)
        self.past_names, self.present_names = list(cache.inputs), list(cache.outputs)
        self.kv_heads, self.head_dim = cache.kv_heads, cache.head_dim
        metadata = session.get_modelmeta().custom_metadata_map
        window = int(metadata.get(SLIDING_WINDOW_KEY, "0") or 0)
        windowed = {int(i) for i in metadata.get(WINDOWED_LAYERS_KEY, "").split(",") if i}
        # per buffer: the window of its layer's window-sized cache, 0 for a full-length one
        self.windows = [window if layer in windowed else 0 for layer in cache.layers]

    def positions(self, index: int, full: int) -> int:
        """Positions buffer `index` holds per row when full-length ones hold `full`."""
        window = self.windows[index]
        return window + WINDOW_SLACK if window else full

    @property
    def can_batch(self) -> bool:
        return True  # each row's positions come from its own length (seqlens_k)

    def step(self, buffers: SlotBuffers, first: int, ids: Array, lengths: Array) -> Array:
        """Feed `ids` (rows, new) to slots first.. whose rows hold `lengths` positions
        before this step; returns logits (rows, new, vocab)."""
        new = ids.shape[1]
        totals = lengths.astype(np.int32) + new
        buffers.reserve(first + ids.shape[0], int(totals.max()))
        binding = buffers.binding(first, ids.shape[0])
        binding.bind_cpu_input("input_ids", np.ascontiguousarray(ids, dtype=np.int64))
        binding.bind_cpu_input("seqlens_k", totals - 1)
        binding.bind_cpu_input("total_sequence_length", np.array(totals.max(), dtype=np.int32))
        binding.bind_output("logits")  # a fresh array each run: its shape changes
        self.session.run_with_iobinding(binding)
        buffers.totals[first : first + len(totals)] = [int(t) for t in totals]
        logits: Array = binding.get_outputs()[-1].numpy()  # bound after the presents
        return logits

    def prefill(self, buffers: SlotBuffers, slot: int, prompt: list[int], start: int = 0) -> Array:
        """Run `prompt[start:]` into a slot that holds `prompt[:start]`, in chunks of
        PREFILL_CHUNK tokens; returns the logits of every new position (new, vocab)."""
        parts = []
        for begin in range(start, len(prompt), PREFILL_CHUNK):
            chunk = np.array([prompt[begin : begin + PREFILL_CHUNK]], dtype=np.int64)
            parts.append(self.step(buffers, slot, chunk, np.array([begin]))[0])
        return np.concatenate(parts, axis=0)

    def greedy(self, prompt: list[int], max_new_tokens: int, stop_ids: set[int]) -> list[int]:
        """Greedy continuation of one prompt, in buffers of its own."""
        buffers = SlotBuffers(self)
        logits = self.prefill(buffers, 0, prompt)[-1]
        out: list[int] = []
        for length in range(len(prompt), len(prompt) + max_new_tokens):
            token = int(np.argmax(logits))
            out.append(token)
            if token in stop_ids:
                break
            logits = self.step(buffers, 0, np.array([[token]]), np.array([length]))[0, -1]
        return out

    def sequence_logits(self, ids: list[int]) -> Array:
        """Logits for every position of `ids`, shape (len, vocab)."""
        return self.prefill(SlotBuffers(self), 0, ids)


class SlotBatch:
    """The engine's rows in slots 0..n-1 of a GqaDecoder, with an optional shared prefix:
    the KV of a token prefix most prompts start with (the default system prompt), computed
    once and copied into a newcomer's slot instead of being recomputed; and an optional
    PromptCache of finished sequences, which the next turn of a conversation starts with."""

    def __init__(
        self,
        decoder: GqaDecoder,
        prefix: list[int] | None = None,
        cache: PromptCache | None = None,
    ) -> None:
        self.decoder = decoder
        self.buffers = SlotBuffers(decoder)
        self.lengths: list[int] = []
        self._filling: list[int] | None = None  # [slot, positions done] of a prompt in prefill
        self.prefix: list[int] = []
        self._prefix_kv: list[Array] = []
        self.cache = cache
        self.reused = 0  # prompt tokens the last prefill took from the prefix or the cache
        self._ahead_from = 0  # the one row's length before the last step ahead
        if prefix:
            decoder.prefill(self.buffers, 0, prefix)
            self.prefix, self._prefix_kv = list(prefix), self.buffers.copy_out(0, len(prefix))

    def _window_capacity(self) -> int:
        windows = [w for w in self.decoder.windows if w]
        return min(windows) + WINDOW_SLACK if windows else 1 << 62

    def emptied(self) -> SlotBatch:
        """A batch with no rows that shares this one's decoder and prefix."""
        empty = SlotBatch(self.decoder, cache=self.cache)
        empty.buffers = self.buffers  # reused: this batch is done with them
        empty.prefix, empty._prefix_kv = self.prefix, self._prefix_kv
        return empty

    @property
    def size(self) -> int:
        return len(self.lengths)

    def _usable(self, shared: int, length: int) -> int:
        """How many of the `shared` leading tokens of a stored sequence of `length` tokens
        its KV can give: all of it always, a part only if its windowed caches evicted
        nothing (a part would need positions they no longer hold)."""
        return shared if shared == length or length <= self._window_capacity() else 0

    def shared_prefix(self, prompt: list[int]) -> int:
        """How many leading tokens of `prompt` the stored prefix covers (at least one
        token is always left to run, for the next-token logits)."""
        ids = np.array(prompt[:-1], dtype=np.int64)
        shared = common_prefix(np.array(self.prefix, dtype=np.int64), ids)
        return self._usable(shared, len(self.prefix))

    def _stored(self, prompt: list[int], scope: str) -> tuple[list[Array], int, int]:
        """The stored KV that covers the most leading tokens of `prompt`: the shared prefix
        or a cached sequence of `scope`. Returns (its KV, tokens of the prompt it covers, its
        length)."""
        best = (self._prefix_kv, self.shared_prefix(prompt), len(self.prefix))
        chosen = None
        for entry, shared in self.cache.candidates(prompt, scope) if self.cache else []:
            usable = self._usable(shared, int(entry.tokens.size))
            if usable > best[1]:
                best, chosen = (entry.kv, usable, int(entry.tokens.size)), entry
        if chosen is not None and self.cache is not None:
            self.cache.used(chosen)
        return best

    def remember(self, row: int, tokens: list[int], scope: str = "") -> None:
        """Keep a finishing row's KV in the cache under `scope`; `tokens` are its prompt and
        answer, of which the KV holds the first `lengths[row]` (a last sampled token was
        never fed)."""
        if self.cache is not None and self.cache.budget_bytes > 0:
            total = self.lengths[row]
            self.cache.add(tokens[:total], self.buffers.copy_out(row, total), scope)

    def prefill(
        self, prompt: list[int], between: Callable[[], None] | None = None, scope: str = ""
    ) -> Array:
        """Add a row for `prompt`, reusing the prefix or a cached sequence of `scope`;
        returns its next-token logits (vocab,). The prompt runs
        in chunks of PREFILL_CHUNK tokens in the slot after the rows, and `between` (the
        engine's decode step for the other rows) runs after each chunk but the last, so a
        long prompt never stalls the running answers for more than one chunk."""
        stored, shared, total = self._stored(prompt, scope)
        self.buffers.reserve(self.size + 1, len(prompt) + 1)
        if shared and shared == total:
            self.buffers.copy_in(self.size, stored, shared)
        elif shared:  # it fits the windowed caches: position i is row i everywhere
            self.buffers.copy_in(self.size, [kv[:, :shared] for kv in stored], shared)
        self.reused = shared
        self._filling = filling = [self.size, shared]
        try:
            for begin in range(shared, len(prompt), PREFILL_CHUNK):
                chunk = np.array([prompt[begin : begin + PREFILL_CHUNK]], dtype=np.int64)
                logits = self.decoder.step(self.buffers, filling[0], chunk, np.array([begin]))
                filling[1] = begin + chunk.shape[1]
                if between is not None and filling[1] < len(prompt):
                    between()  # may finish rows: remove() then moves this slot down
        finally:
            self._filling = None
        self.lengths.append(len(prompt))
        last: Array = logits[0, -1]
        return last

    def step(self, tokens: list[int]) -> Array:
        """One new token per row; returns next-token logits (rows, vocab)."""
        ids = np.array(tokens, dtype=np.int64).reshape(-1, 1)
        logits = self.decoder.step(self.buffers, 0, ids, np.array(self.lengths))
        self.lengths = [length + 1 for length in self.lengths]
        return logits[:, -1]

    def can_step_ahead(self, tokens: int) -> bool:
        """Whether the one row may take `tokens` tokens in a step and later go back: only
        while no windowed cache would evict (past its capacity the kernel shifts them)."""
        return self.size == 1 and self.lengths[0] + tokens <= self._window_capacity()

    def step_ahead(self, tokens: list[int]) -> Array:
        """Feed several tokens to the one row; returns logits after each (tokens, vocab)."""
        self._ahead_from = self.lengths[0]
        logits = self.decoder.step(self.buffers, 0, np.array([tokens]), np.array(self.lengths))
        self.lengths[0] += len(tokens)
        ahead: Array = logits[0]
        return ahead

    def keep_ahead(self, tokens: int) -> None:
        """Keep the first `tokens` positions the last step ahead fed (what it wrote after
        them is overwritten by the next step); 0 after a failed one."""
        self.lengths[0] = self.buffers.totals[0] = self._ahead_from + tokens

    def recovered(self) -> SlotBatch:
        """The same batch with no rows: a failed step changed nothing in the slots."""
        self.remove(list(range(self.size)))
        return self

    def remove(self, rows: list[int]) -> None:
        """Drop rows and move the ones after them down, so rows stay in slots 0..n-1."""
        gone, old_size = set(rows), self.size
        keep = [i for i in range(self.size) if i not in gone]
        for target, source in enumerate(keep):
            if target != source:
                self.buffers.move(source, target, self.lengths[source])
        self.lengths = [self.lengths[i] for i in keep]
        if self._filling is not None and self._filling[0] != self.size:
            self.buffers.move(self._filling[0], self.size, self._filling[1])
            self._filling[0] = self.size
        used = self.size + (self._filling is not None)
        for slot in range(used, min(old_size + 1, len(self.buffers.totals))):
            self.buffers.totals[slot] = 0  # free: nothing there to keep when buffers grow
