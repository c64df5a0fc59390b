from __future__ import annotations

from pathlib import Path

import pytest
import torch

from persian_chat.chat_template import render
from persian_chat.training.base_models import load_base
from persian_chat.training.chat_data import load_conversations
from persian_chat.training.trim_vocab import trim_model_vocabulary

from ..conftest import TinyGemma


@pytest.fixture(params=["gemma", "gpt2"])
def model_dir(request: pytest.FixtureRequest, tiny_gemma: TinyGemma, tiny_gpt2_dir: Path) -> Path:
    return tiny_gemma.model_dir if request.param == "gemma" else tiny_gpt2_dir


def test_trimmed_tokenizer_encodes_the_corpus_identically(
    model_dir: Path, tiny_dataset: Path
) -> None:
    model, tokenizer, _ = load_base(str(model_dir))
    texts = [
        render(c["messages"], tokenizer.bos_token, template=tokenizer.chat_template)
        for name in ("train.jsonl", "test.jsonl")
        for c in load_conversations(tiny_dataset / name)
    ]
    before = [tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    old_vocab = tokenizer.get_vocab()
    probe = torch.tensor([before[0][:40]])
    with torch.no_grad():
        old_logits = model(probe).logits

    model, trimmed = trim_model_vocabulary(model, tokenizer, tiny_dataset)
    # the tiny GPT-2 vocabulary was trained on this very text, so it may keep everything
    assert len(trimmed) <= len(old_vocab)
    new_to_old = {i: old_vocab[token] for token, i in trimmed.get_vocab().items()}
    old_to_new = {old: new for new, old in new_to_old.items()}
    for text, old_ids in zip(texts, before, strict=True):
        new_ids = trimmed(text, add_special_tokens=False).input_ids
        assert [new_to_old[i] for i in new_ids] == old_ids
        assert trimmed.decode(new_ids) == tokenizer.decode(old_ids)

    kept = sorted(new_to_old.values())
    new_probe = torch.tensor([[old_to_new[i] for i in before[0][:40]]])
    with torch.no_grad():
        new_logits = model(new_probe).logits
    torch.testing.assert_close(new_logits, old_logits[..., kept])
    assert model.config.vocab_size == len(trimmed)
    assert trimmed.convert_tokens_to_ids("<end_of_turn>") in model.generation_config.eos_token_id


def test_text_outside_the_corpus_still_round_trips(
    tiny_gemma: TinyGemma, tiny_dataset: Path
) -> None:
    model, tokenizer, _ = load_base(str(tiny_gemma.model_dir))
    _, trimmed = trim_model_vocabulary(model, tokenizer, tiny_dataset)
    assert len(trimmed) < len(tokenizer)  # a SentencePiece vocabulary has pieces to spare
    for text in ("کلمه‌ای کاملاً تازه: زنبورک‌خانه", "Hello, 世界"):
        ids = trimmed(text, add_special_tokens=False).input_ids
        assert trimmed.decode(ids) == text
