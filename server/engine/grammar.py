"""Structured output: a JSON schema (or "any JSON object") as a token mask, with llguidance,
the library llama.cpp and onnxruntime-genai use.

A request's `response_format` becomes an llguidance grammar when the request is read, so a
schema llguidance cannot compile is a 400 that names the keyword, before anything is queued.
The engine asks a `Constraint` for the tokens allowed next (joined with the UTF-8 guard's in
one place, `allowed_tokens`) and tells it each token it sampled; the stop tokens are allowed
only where the grammar may end, so an answer that stops is complete JSON. The prompt-lookup
drafts and the no-repeat n-gram ban are off for such a request: JSON repeats `", "` by design,
and a draft would have to be checked against the grammar token by token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions

MAX_SCHEMA_BYTES = 64 * 1024
# llguidance's own words for a schema keyword it does not implement: 'Unimplemented keys:
# ["if", "then"]', 'Unknown format: weird'
_UNSUPPORTED = re.compile(r"Unimplemented keys?: \[([^\]]*)\]")
_UNKNOWN = re.compile(r"Unknown (\w+): ")
# compact JSON with one space after "," and ":" (as Python's json.dumps writes it): a model
# free to put any whitespace between tokens may fill its whole answer with it
COMPILE_OPTIONS: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


class GrammarError(ValueError):
    """A response format that cannot be used; `keyword` names what was refused."""

    def __init__(self, message: str, keyword: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.keyword = keyword


def _tokenizer_class() -> Any:
    import llguidance

    return llguidance.LLTokenizer


def grammar_tokenizer(tokenizer_json: str, stop_ids: Iterable[int]) -> Any:
    """llguidance's view of the served tokenizer (about a second for 10k tokens: once per
    model); the stop tokens are where a grammar may end."""
    return _tokenizer_class()(tokenizer_json, eos_token=sorted(stop_ids))


def schema_grammar(response_format: dict[str, Any]) -> str | None:
    """The llguidance grammar of an OpenAI `response_format` (None for plain text).
    GrammarError names a missing or malformed field."""
    from llguidance import LLMatcher

    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        schema: Any = {"type": "object"}
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise GrammarError("response_format.json_schema must be an object with a 'schema'")
        schema = spec.get("schema") or {}
    else:
        raise GrammarError(f"response_format.type {kind!r} is not text, json_object or json_schema")
    text = json.dumps(schema)
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise GrammarError(f"the schema is over {MAX_SCHEMA_BYTES // 1024} KiB")
    try:
        return str(LLMatcher.grammar_from_json_schema(text, defaults=COMPILE_OPTIONS))
    except Exception as exc:  # the compiler's errors are ValueError, a panic RuntimeError
        raise GrammarError(f"the JSON schema cannot be used: {exc}") from None


def check_grammar(grammar: str, tokenizer: Any) -> None:
    """GrammarError (naming the refused keyword where llguidance names one) for a grammar
    that does not compile."""
    from llguidance import LLMatcher

    try:
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, tokenizer)
    except Exception as exc:  # llguidance reports errors; this is for its panics
        raise GrammarError(f"the JSON schema cannot be used: {exc}") from None
    if not is_error:
        return
    message = messages[0] if messages else "the schema does not compile"
    keyword = None
    if match := _UNSUPPORTED.search(message):
        keyword = ", ".join(json.loads(f"[{match.group(1)}]"))
    elif match := _UNKNOWN.search(message):
        keyword = match.group(1)
    if keyword:
        raise GrammarError(f"unsupported JSON schema keyword {keyword!r}: {message}", keyword)
    raise GrammarError(f"the JSON schema cannot be used: {message}")


@dataclass(frozen=True)
class Grammar:
    """A request's compiled-to-text grammar and the tokenizer it runs over."""

    tokenizer: Any
    text: str


@dataclass
class Constraint:
    """One request's grammar state: the tokens allowed next, advanced token by token."""

    grammar: Grammar
    _matcher: Any = field(init=False)
    _mask: NDArray[np.int32] = field(init=False)

    def __post_init__(self) -> None:
        from llguidance import LLMatcher

        tokenizer = self.grammar.tokenizer
        self._matcher = LLMatcher(tokenizer, self.grammar.text, log_level=0)
        if self._matcher.is_error():
            raise GrammarError(f"the JSON schema cannot be used: {self._matcher.get_error()}")
        self._mask = np.full((1, (tokenizer.vocab_size + 31) // 32), -1, dtype=np.int32)

    def allowed(self, vocab: int, also: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
        """A boolean mask over `vocab` logits: the tokens the grammar accepts next (ids the
        tokenizer does not have never), joined with `also` (the UTF-8 guard's) where the two
        leave a token; the grammar alone otherwise, since it must always hold."""
        from llguidance.numpy import fill_next_token_bitmask

        fill_next_token_bitmask(self._matcher, self._mask)
        bits = np.unpackbits(self._mask[0].view(np.uint8), bitorder="little").astype(bool)
        out = np.zeros(vocab, dtype=bool)
        size = min(vocab, self.grammar.tokenizer.vocab_size)
        out[:size] = bits[:size]
        if also is not None:
            joined = out.copy()
            joined[: also.size] &= also[:vocab]
            if joined.any():
                return joined
        return out

    def advance(self, token: int) -> None:
        """Take the sampled token; ValueError if the grammar did not allow it."""
        if not self._matcher.consume_token(token):
            raise ValueError(f"token {token} breaks the grammar: {self._matcher.get_error()}")

    @property
    def finished(self) -> bool:
        """The grammar can take no more tokens (the answer is complete)."""
        return bool(self._matcher.is_stopped())
