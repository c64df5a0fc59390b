from __future__ import annotations

import json
from pathlib import Path

import pytest

from persian_chat.chat_format import Conversation
from persian_chat.errors import InputError, UserError
from persian_chat.training.base_models import load_base
from persian_chat.training.chat_data import (
    IGNORE_INDEX,
    encode_all,
    encode_conversation,
    load_conversations,
    verify_dataset,
)

from ..conftest import TinyGemma

CONVERSATION: Conversation = {
    "messages": [
        {"role": "system", "content": "دستیار"},
        {"role": "user", "content": "پایتخت ایران کجاست؟"},
        {"role": "assistant", "content": "تهران."},
        {"role": "user", "content": "و ژاپن؟"},
        {"role": "assistant", "content": "توکیو."},
    ]
}


@pytest.fixture(params=["gemma", "gpt2"])
def tokenizer(request: pytest.FixtureRequest, tiny_gemma: TinyGemma, tiny_gpt2_dir: Path):  # type: ignore[no-untyped-def]
    directory = tiny_gemma.model_dir if request.param == "gemma" else tiny_gpt2_dir
    _, tok, _ = load_base(str(directory))
    return tok


def test_loss_only_on_assistant_replies_and_end_markers(tokenizer) -> None:  # type: ignore[no-untyped-def]
    encoded = encode_conversation(tokenizer, CONVERSATION, max_length=512)
    # the ids are exactly what tokenizing the rendered prompt gives (as the server does)
    rendered = tokenizer.apply_chat_template(CONVERSATION["messages"], tokenize=False)
    assert encoded.input_ids == tokenizer(rendered, add_special_tokens=False).input_ids
    pairs = zip(encoded.input_ids, encoded.labels, strict=True)
    targets = [t for t, label in pairs if label != IGNORE_INDEX]
    assert [label for label in encoded.labels if label != IGNORE_INDEX] == targets
    text = tokenizer.decode(targets)
    assert text == "تهران.<end_of_turn>توکیو.<end_of_turn>"
    assert encoded.labels[0] == IGNORE_INDEX


def test_truncation_and_examples_without_targets(tokenizer) -> None:  # type: ignore[no-untyped-def]
    short = encode_conversation(tokenizer, CONVERSATION, max_length=8)
    assert len(short.input_ids) == len(short.labels) == 8
    features, kept = encode_all(tokenizer, [CONVERSATION, CONVERSATION], max_length=8)
    assert (features, kept) == ([], [])
    features, kept = encode_all(tokenizer, [CONVERSATION], max_length=512)
    assert kept == [0] and features[0]["attention_mask"] == [1] * len(features[0]["input_ids"])


def test_verify_dataset_detects_changes(tiny_dataset: Path, tmp_path: Path) -> None:
    digests = verify_dataset(tiny_dataset)
    assert set(digests) == {"train.jsonl", "test.jsonl"}
    copy = tmp_path / "data"
    copy.mkdir()
    for name in ("train.jsonl", "test.jsonl", "SHA256SUMS"):
        (copy / name).write_bytes((tiny_dataset / name).read_bytes())
    with (copy / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(UserError, match=r"checksum .* does not match"):
        verify_dataset(copy)
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(UserError, match="SHA256SUMS: missing"):
        verify_dataset(copy)


def test_bad_dataset_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "x"}]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"train\.jsonl:1: the last turn"):
        load_conversations(path)
    with pytest.raises(UserError, match="dataset file not found"):
        load_conversations(tmp_path / "absent.jsonl")


def test_prepared_rows_keep_only_their_messages_for_training(tmp_path: Path) -> None:
    """prepare adds source, domain and expected to each row; training reads the messages."""
    row = {**CONVERSATION, "source": "task:facts", "domain": "facts_geography", "expected": "توکیو"}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_conversations(path) == [CONVERSATION]


def test_spread_keeps_an_even_sample_in_file_order() -> None:
    from persian_chat.training.chat_data import spread

    rows = [{"messages": [{"role": "user", "content": str(i)}]} for i in range(10)]
    picked = spread(rows, 4)  # type: ignore[arg-type]
    assert [r["messages"][0]["content"] for r in picked] == ["0", "2", "5", "7"]
    assert spread(rows, None) == rows and spread(rows, 20) == rows  # type: ignore[arg-type]
