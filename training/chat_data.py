"""Read the prepared chat JSONL and encode it for causal-LM training with loss masks.

Each conversation is rendered with the tokenizer's chat template and tokenized as one string
(exactly what the server does); tokens that start inside an assistant span get labels, all
others get -100, so the loss is taken on assistant tokens only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persian_chat.chat_format import ChatFormatError, Conversation, validate_conversation
from persian_chat.chat_template import assistant_spans, render
from persian_chat.checksums import parse_sha256sums, sha256_file
from persian_chat.errors import InputError, UserError

IGNORE_INDEX = -100
DATA_FILES = ("train.jsonl", "test.jsonl")


def verify_dataset(data_dir: Path) -> dict[str, str]:
    """Check the dataset against its SHA256SUMS; return the checksums of the data files."""
    sums = data_dir / "SHA256SUMS"
    if not sums.is_file():
        raise UserError(f"{sums}: missing; build the dataset with `persian-chat prepare`")
    expected = parse_sha256sums(sums.read_text(encoding="utf-8"))
    digests = {}
    for name in DATA_FILES:
        path = data_dir / name
        if not path.is_file():
            raise UserError(f"{path}: missing; build the dataset with `persian-chat prepare`")
        actual = sha256_file(path)
        if expected.get(name) != actual:
            raise UserError(
                f"{path}: checksum {actual} does not match {sums} ({expected.get(name)}); "
                "the file changed after `persian-chat prepare`"
            )
        digests[name] = actual
    return digests


def load_conversations(path: Path) -> list[Conversation]:
    """All records of a chat JSONL file; the first bad line stops with file:line."""
    if not path.is_file():
        raise UserError(f"{path}: dataset file not found")
    conversations = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                conversations.append(validate_conversation(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(str(path), number, f"malformed JSON: {exc.msg}") from None
            except ChatFormatError as exc:
                raise InputError(str(path), number, str(exc)) from None
    if not conversations:
        raise UserError(f"{path}: no conversations")
    return conversations


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


def spread(rows: list[Conversation], limit: int | None) -> list[Conversation]:
    """At most `limit` rows, evenly spaced through the file (so every source keeps its share):
    two models' perplexity on 2 cores stays minutes, not a quarter hour, as the test set grows."""
    if limit is None or len(rows) <= limit:
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def encode_conversation(tokenizer: Any, conversation: Conversation, max_length: int) -> Encoded:
    """Token ids and labels (-100 outside assistant spans), truncated to `max_length`."""
    messages = conversation["messages"]
    template = tokenizer.chat_template
    text = render(messages, tokenizer.bos_token, template=template)
    spans = assistant_spans(messages, tokenizer.bos_token, template=template)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoding["input_ids"]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(ids, encoding["offset_mapping"], strict=True)
    ]
    return Encoded(ids[:max_length], labels[:max_length])


def encode_all(
    tokenizer: Any, conversations: list[Conversation], max_length: int
) -> tuple[list[dict[str, list[int]]], list[int]]:
    """Encoded features for the Trainer, and the index of the conversation each came from
    (a conversation with no target token left after truncation is dropped)."""
    features, kept = [], []
    for index, conversation in enumerate(conversations):
        encoded = encode_conversation(tokenizer, conversation, max_length)
        if all(label == IGNORE_INDEX for label in encoded.labels):
            continue
        kept.append(index)
        features.append(
            {
                "input_ids": encoded.input_ids,
                "attention_mask": [1] * len(encoded.input_ids),
                "labels": encoded.labels,
            }
        )
    return features, kept
