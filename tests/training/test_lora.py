from __future__ import annotations

import torch

from persian_chat.training.base_models import load_base
from persian_chat.training.lora import apply_lora, count_parameters, merge_lora

from ..conftest import TinyGemma


def test_merged_model_computes_what_the_adapted_model_computes(tiny_gemma: TinyGemma) -> None:
    model, _, _ = load_base(str(tiny_gemma.model_dir))
    total_before, _ = count_parameters(model)
    adapted = apply_lora(model, r=4, alpha=8, dropout=0.0)
    total, trainable = count_parameters(adapted)
    assert 0 < trainable < total and total > total_before
    torch.manual_seed(1)
    with torch.no_grad():  # LoRA starts as a no-op (B = 0); make it matter
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    adapted.eval()
    ids = torch.tensor([[2, 40, 41, 300, 7, 99, 12]])
    with torch.no_grad():
        expected = adapted(ids).logits
        merged = merge_lora(adapted)
        actual = merged(ids).logits
    assert not any("lora" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
