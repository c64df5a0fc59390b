from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from persian_chat.errors import UserError
from persian_chat.training.base_models import load_base, resolve_base_model


def test_local_directories_are_checked(tmp_path: Path, tiny_gpt2_dir: Path) -> None:
    assert resolve_base_model(str(tiny_gpt2_dir)) == str(tiny_gpt2_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"no config\.json"):
        resolve_base_model(str(empty))
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(tiny_gpt2_dir / "config.json", no_tokenizer / "config.json")
    with pytest.raises(UserError, match="has no tokenizer"):
        resolve_base_model(str(no_tokenizer))


def test_unknown_names_and_unreachable_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="unknown base model 'gpt-17'"):
        resolve_base_model("gpt-17")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="could not load base model 'nobody/no-such-model'"):
        load_base("nobody/no-such-model")


def test_gpt2_gets_turn_tokens_pad_and_template(tiny_gpt2_dir: Path) -> None:
    model, tokenizer, _ = load_base(str(tiny_gpt2_dir))
    for token in ("<start_of_turn>", "<end_of_turn>"):
        assert len(tokenizer(token, add_special_tokens=False).input_ids) == 1
    assert tokenizer.pad_token is not None and tokenizer.chat_template
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") in model.generation_config.eos_token_id
