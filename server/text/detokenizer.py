"""Incremental detokenization that only ever emits whole UTF-8 characters.

Byte-level BPE (GPT-2) and byte-fallback (Gemma) tokens can end in the middle of a
character — Persian letters are two bytes — and decoding such a prefix yields U+FFFD. We
keep a short window of recent tokens and emit the new text only once it decodes without a
trailing replacement character (the method of TGI and vLLM), so a client never sees half a
letter and the concatenation of all pieces equals decoding the whole sequence.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


class IncrementalDecoder:
    """Feed token ids one at a time with `push`; call `flush` when generation ends."""

    def __init__(self, tokenizer: Any, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer  # a `tokenizers.Tokenizer`
        self.skip_special_tokens = skip_special_tokens
        self.ids: list[int] = []
        self.prefix_offset = 0  # start of the window decoded for context
        self.read_offset = 0  # tokens before this were already emitted

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens))

    def push(self, token_id: int) -> str:
        """The text that `token_id` completes, possibly empty."""
        self.ids.append(token_id)
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        full = self._decode(self.ids[self.prefix_offset :])
        if len(full) > len(prefix) and not full.endswith(REPLACEMENT):
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return full[len(prefix) :]
        return ""

    def flush(self) -> str:
        """Whatever is still held back. An answer cut (by max_tokens) inside a character
        leaves bytes that decode to U+FFFD: they are dropped, never shown."""
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        full = self._decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        return full[len(prefix) :].rstrip(REPLACEMENT)
