"""Evaluate a fine-tuned model against its untouched base model on datasets/test.jsonl.

Both are scored on the same tokens: the fine-tuned model's tokenizer and chat template, and —
when training trimmed the vocabulary — the base model trimmed the same way (its logits on the
kept tokens are unchanged), so the perplexities are directly comparable. Writes
logs/eval.json (eval_loss and perplexity on assistant tokens, checksums) and the head of
logs/errors.txt (the worst test examples with the model's greedy answers, and answers to
fixed prompts).

Then the chat evaluation (training/chat_eval.py) scores the served int8 ONNX model's answers
to held-out prompts, greedy and with the server's default sampling, into
logs/chat_eval.json under --label and a section of logs/errors.txt. `--chat-only` runs just
that part, which needs no torch (the serve and eval extras).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persian_chat.atomic import atomic_write_text
from persian_chat.chat_format import Conversation, Message
from persian_chat.chat_template import prompt_ids
from persian_chat.checksums import sha256_file
from persian_chat.errors import UserError
from persian_chat.logs import configure_logging
from persian_chat.server.settings import default_threads
from persian_chat.settings import DEFAULT_SYSTEM_PROMPT
from persian_chat.training.errors_file import replace_head

HELP = "perplexity on test.jsonl, and chat quality of the served ONNX model"
log = logging.getLogger("persian_chat.evaluate")

FIXED_PROMPTS = (
    "سلام! خودت را معرفی کن.",
    "برای یک صبحانهٔ سالم چه پیشنهادی داری؟",
    "پایتخت ایران کجاست؟",
    "یک جملهٔ کوتاه دربارهٔ بهار بنویس.",
    "ادامهٔ این مصراع حافظ را بگو: «الا یا ایها الساقی ادر کاسا و ناولها»",
    "جملهٔ «I am very tired today.» را به فارسی ترجمه کن.",
    "شب‌ها دیر خوابم می‌برد. چه کار کنم؟",
)


@dataclass
class Scores:
    """Loss per example (mean over its assistant tokens) and the pooled totals."""

    per_example: list[float]
    nll_sum: float
    tokens: int

    @property
    def eval_loss(self) -> float:
        return self.nll_sum / max(self.tokens, 1)

    @property
    def perplexity(self) -> float:
        return math.exp(self.eval_loss)

    def summary(self) -> dict[str, Any]:
        return {
            "eval_loss": round(self.eval_loss, 5),
            "perplexity": round(self.perplexity, 4),
            "target_tokens": self.tokens,
            "examples": len(self.per_example),
        }


def score(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    max_length: int,
    batch_size: int = 8,
) -> Scores:
    """Summed negative log-likelihood of the assistant tokens, batched by length."""
    import torch

    from persian_chat.training.chat_data import IGNORE_INDEX, encode_conversation

    encoded = [encode_conversation(tokenizer, c, max_length) for c in conversations]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    per_example = [0.0] * len(encoded)
    nll_sum, tokens = 0.0, 0
    model.eval()
    pad = tokenizer.pad_token_id
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = [encoded[i] for i in order[start : start + batch_size]]
            width = max(len(e.input_ids) for e in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, e in enumerate(batch):
                n = len(e.input_ids)
                ids[row, :n] = torch.tensor(e.input_ids)
                labels[row, :n] = torch.tensor(e.labels)
                mask[row, :n] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), target, ignore_index=IGNORE_INDEX, reduction="none"
            )
            counted = (target != IGNORE_INDEX).sum(dim=1)
            for row, index in enumerate(order[start : start + batch_size]):
                count = int(counted[row])
                total = float(nll[row].sum())
                per_example[index] = total / max(count, 1)
                nll_sum += total
                tokens += count
    return Scores(per_example, nll_sum, tokens)


def generate(model: Any, tokenizer: Any, messages: list[Message], max_new_tokens: int) -> str:
    """Greedy answer to `messages` rendered with the chat template."""
    import torch

    prompt = prompt_ids(tokenizer, messages, tokenizer.bos_token, tokenizer.chat_template)
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)).strip()


def _load_model_dir(path: Path) -> tuple[Any, Any, dict[str, Any]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest_path = path / "training_manifest.json"
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: no model here (missing config.json); run `persian-chat train`")
    if not (path / "tokenizer.json").is_file():
        raise UserError(f"{path}: model directory has no tokenizer.json")
    if not manifest_path.is_file():
        raise UserError(f"{path}: missing training_manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not tokenizer.chat_template:
        raise UserError(f"{path}: tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model, tokenizer, manifest


def evaluate(
    model_dir: Path,
    data_dir: Path,
    logs_dir: Path,
    models_dir: Path,
    max_length: int,
    worst: int,
    max_new_tokens: int,
    compare_base: bool = True,
    max_examples: int | None = 400,
) -> dict[str, Any]:
    import torch

    from persian_chat.training.base_models import load_base
    from persian_chat.training.chat_data import load_conversations, spread, verify_dataset

    started = time.monotonic()
    digests = verify_dataset(data_dir)
    model, tokenizer, manifest = _load_model_dir(model_dir)
    trained_on = manifest.get("dataset_sha256", {})
    if trained_on and trained_on.get("train.jsonl") != digests["train.jsonl"]:
        raise UserError(
            f"{data_dir}: dataset checksum differs from the one {model_dir} was trained on "
            f"({trained_on.get('train.jsonl')}); evaluate with the same dataset"
        )
    torch.manual_seed(0)
    test = spread(load_conversations(data_dir / "test.jsonl"), max_examples)
    log.info("scoring the fine-tuned model on %d test conversations", len(test))
    tuned = score(model, tokenizer, test, max_length)
    result: dict[str, Any] = {
        "dataset": {"test.jsonl": digests["test.jsonl"], "train.jsonl": digests["train.jsonl"]},
        "model_dir": str(model_dir),
        "model_manifest_sha256": sha256_file(model_dir / "training_manifest.json"),
        "max_length": max_length,
        "examples": {"scored": len(test), "limit": max_examples},
        "fine_tuned": tuned.summary(),
    }
    if compare_base:
        base_name = manifest["base_model"]
        log.info("scoring the untouched base model %s with the same tokenizer", base_name)
        base, base_tokenizer, _ = load_base(base_name, models_dir)
        if manifest.get("hyperparameters", {}).get("trim_vocab"):
            from persian_chat.training.trim_vocab import trim_model_vocabulary

            base, base_tokenizer = trim_model_vocabulary(base, base_tokenizer, data_dir)
        if base_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise UserError("the base model's tokenizer differs from the fine-tuned one")
        base_scores = score(base, tokenizer, test, max_length)
        result["base"] = {"model": base_name, **base_scores.summary()}
        result["perplexity_ratio_tuned_over_base"] = round(
            tuned.perplexity / base_scores.perplexity, 4
        )
        del base

    worst_indices = sorted(range(len(test)), key=lambda i: -tuned.per_example[i])[:worst]
    lines = [
        f"# Worst {len(worst_indices)} test examples by loss (fine-tuned model {model_dir})",
        "",
    ]
    for rank, index in enumerate(worst_indices, start=1):
        messages = test[index]["messages"]
        prompt, reference = messages[:-1], messages[-1]["content"]
        answer = generate(model, tokenizer, prompt, max_new_tokens)
        user = next(m["content"] for m in reversed(prompt) if m["role"] == "user")
        lines += [
            f"## {rank}. loss {tuned.per_example[index]:.3f} (test line {index + 1})",
            f"prompt:\n{user}",
            f"reference:\n{reference}",
            f"model (greedy, {max_new_tokens} tokens max):\n{answer}",
            "",
        ]
    lines += ["# Fixed prompts (greedy)", ""]
    for prompt_text in FIXED_PROMPTS:
        fixed: list[Message] = [
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": prompt_text},
        ]
        answer = generate(model, tokenizer, fixed, max_new_tokens)
        lines += [f"prompt: {prompt_text}", f"model: {answer}", ""]
    result["wall_time_s"] = round(time.monotonic() - started, 1)
    logs_dir.mkdir(parents=True, exist_ok=True)
    replace_head(logs_dir / "errors.txt", "\n".join(lines))
    atomic_write_text(
        logs_dir / "eval.json", json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    )
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", type=Path, default=Path("models/persian-chat"), help="fine-tuned model dir")
    add("--data-dir", type=Path, default=Path("datasets"), help="dataset with test.jsonl")
    add("--logs-dir", type=Path, default=Path("logs"), help="where eval.json and errors.txt go")
    add("--models-dir", type=Path, default=Path("models"), help="cache of converted base models")
    add("--max-length", type=int, default=512, help="tokens per test conversation (truncated)")
    add("--worst", type=int, default=8, help="how many worst examples go to errors.txt")
    add("--max-new-tokens", type=int, default=64, help="length of greedy answers in errors.txt")
    add("--no-base", action="store_true", help="skip scoring the base model")
    add(
        "--max-examples",
        type=int,
        default=400,
        help="test conversations scored for perplexity, evenly spaced (0: all)",
    )
    chat = parser.add_argument_group("chat evaluation (the served ONNX model's answers)")
    add = chat.add_argument
    add(
        "--served-dir",
        type=Path,
        default=Path("models/persian-chat-onnx-int8"),
        help="served model directory to evaluate",
    )
    add(
        "--label",
        default="fine-tuned",
        help="name of the model in logs/chat_eval.json, e.g. base, turn1, new",
    )
    only = chat.add_mutually_exclusive_group()
    only.add_argument(
        "--chat-only", action="store_true", help="skip the perplexity part (needs no torch)"
    )
    only.add_argument("--no-chat", action="store_true", help="skip the chat evaluation")
    add("--threads", type=int, default=default_threads(), help="onnxruntime threads")
    add(
        "--chat-weights",
        default="int8",
        help="the weight format that answers, of those the served directory carries (int8, int4)",
    )
    add("--max-batch", type=int, default=8, help="sequences the engine decodes together")
    add(
        "--chat-prompts",
        type=int,
        default=160,
        help="held-out prompts, an equal share per category",
    )
    add(
        "--chat-scored-prompts",
        type=int,
        default=100,
        help="at least this many per category scored by exact match, sentiment or chrF",
    )
    add("--chat-max-tokens", type=int, default=128, help="new tokens per answer at most")
    knowledge = chat.add_mutually_exclusive_group()
    knowledge.add_argument(
        "--knowledge",
        type=Path,
        default=None,
        help="knowledge base for the grounded and unanswerable questions (default: "
        "datasets/knowledge/passages.jsonl when it exists)",
    )
    knowledge.add_argument(
        "--no-knowledge", action="store_true", help="skip the knowledge questions"
    )
    add("--chat-seed", type=int, default=13, help="selection order and sampling seeds")
    add(
        "--chat-examples",
        type=int,
        default=1,
        help="worst answers per category and mode in errors.txt",
    )
    add(
        "--sampling-mode",
        action="append",
        default=[],
        metavar="NAME:FIELD=VALUE,...",
        help="an extra sampling mode with /api/chat fields, e.g. "
        "fp05:frequency_penalty=0.5,no_repeat_ngram_size=3 (repeatable)",
    )


def parse_mode(text: str) -> tuple[str, dict[str, Any]]:
    """`name:field=value,...` -> (name, request fields); values are JSON (numbers, true)."""
    name, _, spec = text.partition(":")
    fields: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--sampling-mode {text!r}: expected NAME:FIELD=VALUE,...")
        try:
            fields[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            raise UserError(f"--sampling-mode {text!r}: {value!r} is not a number") from None
    return name.strip(), fields


def chat_knowledge(args: argparse.Namespace) -> Path | None:
    """The knowledge base of the chat evaluation's knowledge part, as `serve` would pick it
    for the evaluated model (None: skipped)."""
    from persian_chat.server.http.runtime import knowledge_path
    from persian_chat.server.http.serve import knowledge_setting
    from persian_chat.server.settings import ServerSettings

    chosen = knowledge_setting(args.knowledge, args.no_knowledge)
    settings = ServerSettings(model_dir=args.served_dir, **chosen)
    return knowledge_path(settings, args.served_dir)


def run_chat(args: argparse.Namespace) -> dict[str, Any]:
    from persian_chat.training.chat_eval import MODES, ChatEvalConfig, run_chat_eval

    config = ChatEvalConfig(
        served_dir=args.served_dir,
        data_dir=args.data_dir,
        logs_dir=args.logs_dir,
        label=args.label,
        prompts=args.chat_prompts,
        scored_prompts=args.chat_scored_prompts,
        max_tokens=args.chat_max_tokens,
        seed=args.chat_seed,
        threads=args.threads,
        max_batch=args.max_batch,
        examples=args.chat_examples,
        modes={**MODES, **dict(parse_mode(m) for m in args.sampling_mode)},
        knowledge=chat_knowledge(args),
        weights=args.chat_weights,
    )
    entry = run_chat_eval(config)
    log.info("chat evaluation (label %s) -> %s", args.label, args.logs_dir / "chat_eval.json")
    return entry


def run(args: argparse.Namespace) -> int:
    configure_logging()
    if not args.no_chat and not (args.served_dir / "manifest.json").is_file():
        raise UserError(
            f"{args.served_dir}: no served model for the chat evaluation; run "
            "`persian-chat export` first, or pass --no-chat"
        )
    if args.chat_only:
        run_chat(args)
        return 0
    result = evaluate(
        args.model,
        args.data_dir,
        args.logs_dir,
        args.models_dir,
        args.max_length,
        args.worst,
        args.max_new_tokens,
        compare_base=not args.no_base,
        max_examples=args.max_examples or None,
    )
    tuned = result["fine_tuned"]
    message = (
        f"fine-tuned: eval_loss {tuned['eval_loss']:.4f}, perplexity {tuned['perplexity']:.2f}"
    )
    if "base" in result:
        base = result["base"]
        message += f"; base: eval_loss {base['eval_loss']:.4f}, perplexity {base['perplexity']:.2f}"
    log.info("%s -> %s", message, args.logs_dir / "eval.json")
    if not args.no_chat:
        run_chat(args)
    return 0
