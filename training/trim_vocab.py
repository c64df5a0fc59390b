"""Vocabulary trimming: keep only the tokens Persian text needs.

Gemma-3 has 262,144 tokens; on CPU its tied embedding/output layer costs more per token than
the rest of the model. We keep the tokens that the prepared corpus and hazm's Persian word
list encode to, every token needed on the way to them (the parts of their BPE merges), the
byte-fallback / byte-level alphabet, non-special added tokens and the special tokens in use.
Dropping a merge only removes options that the kept text never used, so the kept text
encodes to exactly the same token sequence as before (`test_trim_vocab` checks it).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from persian_chat.chat_template import TURN_TOKENS, render
from persian_chat.errors import UserError
from persian_chat.logs import configure_logging

HELP = "trim a model's vocabulary to the tokens Persian text needs"
log = logging.getLogger("persian_chat.trim_vocab")


def corpus_texts(data_dir: Path, bos_token: str, template: str) -> list[str]:
    """The rendered conversations of train.jsonl and test.jsonl."""
    from persian_chat.training.chat_data import load_conversations

    texts = []
    for name in ("train.jsonl", "test.jsonl"):
        for conversation in load_conversations(data_dir / name):
            texts.append(render(conversation["messages"], bos_token, template=template))
    return texts


def hazm_words() -> list[str]:
    """hazm's Persian word list (about 190k words), with and without a leading space."""
    try:
        dist = metadata.distribution("hazm")
    except metadata.PackageNotFoundError:
        return []
    path = Path(str(dist.locate_file("hazm/data/words.dat")))
    words = [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
    return [w for word in words if word for w in (word, " " + word)]


def _merge_pairs(model: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = [m if isinstance(m, list) else m.split(" ", 1) for m in model["merges"]]
    return [(left, right) for left, right in pairs]


def kept_token_ids(
    backend: Any, spec: dict[str, Any], texts: Iterable[str], keep_special: set[str]
) -> list[int]:
    """Old ids to keep, sorted (the new id of a token is its rank in this list)."""
    model = spec["model"]
    vocab: dict[str, int] = model["vocab"]
    keep: set[int] = set()
    for encoding in backend.encode_batch(list(texts), add_special_tokens=False):
        keep.update(encoding.ids)
    if model.get("byte_fallback"):
        keep.update(vocab[f"<0x{b:02X}>"] for b in range(256) if f"<0x{b:02X}>" in vocab)
    pre = json.dumps(spec.get("pre_tokenizer"))
    if "ByteLevel" in pre:
        from tokenizers.pre_tokenizers import ByteLevel

        keep.update(vocab[ch] for ch in ByteLevel.alphabet() if ch in vocab)
    for added in spec["added_tokens"]:
        if not added["special"] or added["content"] in keep_special:
            keep.add(added["id"])
    # Closure: the parts of every merge that produces a kept token.
    producers: dict[str, list[tuple[str, str]]] = {}
    for left, right in _merge_pairs(model):
        producers.setdefault(left + right, []).append((left, right))
    id_to_token = {i: t for t, i in vocab.items()}
    stack = [id_to_token[i] for i in keep if i in id_to_token]
    while stack:
        token = stack.pop()
        for left, right in producers.get(token, ()):
            for part in (left, right):
                if vocab[part] not in keep:
                    keep.add(vocab[part])
                    stack.append(part)
    return sorted(keep)


def trimmed_tokenizer_json(spec: dict[str, Any], old_ids: list[int]) -> dict[str, Any]:
    """The tokenizer.json for the kept ids, renumbered 0..n-1 in the old order."""
    new_id = {old: new for new, old in enumerate(old_ids)}
    model = dict(spec["model"])
    model["vocab"] = {t: new_id[i] for t, i in model["vocab"].items() if i in new_id}
    kept = model["vocab"]
    model["merges"] = [
        [left, right]
        for left, right in _merge_pairs(spec["model"])
        if left in kept and right in kept and left + right in kept
    ]
    out = dict(spec)
    out["model"] = model
    out["added_tokens"] = [
        {**a, "id": new_id[a["id"]]} for a in spec["added_tokens"] if a["id"] in new_id
    ]
    processor = json.loads(json.dumps(spec.get("post_processor")))
    for entry in (processor or {}).get("special_tokens", {}).values():
        entry["ids"] = [new_id[i] for i in entry["ids"]]
    out["post_processor"] = processor
    return out


def trim_model_vocabulary(model: Any, tokenizer: Any, data_dir: Path) -> tuple[Any, Any]:
    """Trimmed copies of the tokenizer and the model's embedding/output rows."""
    import torch
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE":
        raise UserError(f"vocabulary trimming supports BPE tokenizers, not {spec['model']['type']}")
    keep_special = set(tokenizer.all_special_tokens) | set(TURN_TOKENS)
    texts = corpus_texts(data_dir, tokenizer.bos_token, tokenizer.chat_template) + hazm_words()
    old_ids = kept_token_ids(tokenizer.backend_tokenizer, spec, texts, keep_special)
    backend = Tokenizer.from_str(json.dumps(trimmed_tokenizer_json(spec, old_ids)))
    special = {
        key: getattr(tokenizer, key)
        for key in ("bos_token", "eos_token", "unk_token", "pad_token")
        if getattr(tokenizer, key) is not None
    }
    extra = [t for t in tokenizer.additional_special_tokens if t in keep_special]
    trimmed = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        chat_template=tokenizer.chat_template,
        additional_special_tokens=extra,
        clean_up_tokenization_spaces=False,
        model_max_length=tokenizer.model_max_length,
        **special,
    )

    index = torch.tensor(old_ids, dtype=torch.long)
    embeddings = model.get_input_embeddings()
    output = model.get_output_embeddings()
    tied = output is not None and output.weight is embeddings.weight
    embeddings.weight = torch.nn.Parameter(embeddings.weight.data[index].clone())
    embeddings.num_embeddings = len(old_ids)
    if embeddings.padding_idx is not None:
        embeddings.padding_idx = trimmed.pad_token_id
    if output is not None:
        output.weight = (
            embeddings.weight if tied else torch.nn.Parameter(output.weight.data[index].clone())
        )
        output.out_features = len(old_ids)
        if getattr(output, "bias", None) is not None:
            output.bias = torch.nn.Parameter(output.bias.data[index].clone())
    text_config = getattr(model.config, "text_config", model.config)
    for config in {id(c): c for c in (model.config, text_config)}.values():
        config.vocab_size = len(old_ids)
    for module in model.modules():  # some models cache vocab_size for their loss
        if isinstance(getattr(module, "vocab_size", None), int):
            module.vocab_size = len(old_ids)
    _remap_special_ids(model, trimmed)
    log.info("vocabulary trimmed from %d to %d tokens", len(tokenizer), len(trimmed))
    return model, trimmed


def _remap_special_ids(model: Any, tokenizer: Any) -> None:
    end_of_turn = tokenizer.convert_tokens_to_ids(TURN_TOKENS[1])
    for config in (model.config, model.generation_config):
        config.bos_token_id = tokenizer.bos_token_id
        config.pad_token_id = tokenizer.pad_token_id
        config.eos_token_id = (
            [tokenizer.eos_token_id, end_of_turn]
            if config is model.generation_config
            else tokenizer.eos_token_id
        )


# --- command line: trim a model directory into another ------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-model", default="gemma3-270m", help="gemma3-270m or a local HF dir")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("datasets"), help="the corpus to keep"
    )
    parser.add_argument(
        "--output-dir", type=Path, required=True, help="where the trimmed model goes"
    )
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="base model cache")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    from persian_chat.training.base_models import load_base
    from persian_chat.training.lora import count_parameters

    model, tokenizer, _ = load_base(args.base_model, args.models_dir)
    before_vocab, (before_params, _) = len(tokenizer), count_parameters(model)
    model, tokenizer = trim_model_vocabulary(model, tokenizer, args.data_dir)
    after_params, _ = count_parameters(model)
    model.save_pretrained(args.output_dir, safe_serialization=True)
    tokenizer.save_pretrained(args.output_dir)
    log.info(
        "vocabulary %d -> %d, parameters %d -> %d; saved %s",
        before_vocab,
        len(tokenizer),
        before_params,
        after_params,
        args.output_dir,
    )
    return 0
