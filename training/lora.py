"""LoRA adapters via peft, merged back so later stages see a plain HF checkpoint."""

from __future__ import annotations

from typing import Any

LORA_DEFAULT_ABOVE_PARAMS = 100_000_000


def apply_lora(model: Any, r: int, alpha: int, dropout: float) -> Any:
    """Wrap every linear layer of the transformer blocks (not the embeddings/LM head)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def merge_lora(model: Any) -> Any:
    """Fold the adapters into the base weights and return the plain model."""
    return model.merge_and_unload()


def count_parameters(model: Any) -> tuple[int, int]:
    """(total, trainable) parameter counts; tied weights counted once."""
    seen: set[int] = set()
    total = trainable = 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return total, trainable
