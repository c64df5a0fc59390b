"""Parity of the exported graphs with PyTorch, measured on real prompts and the test set.

- fp32 ONNX vs PyTorch: the largest absolute logit difference over fixed chat prompts;
- int8 ONNX vs PyTorch: greedy-token agreement over 64 steps with the KV cache;
- test-set perplexity on assistant tokens for PyTorch, ONNX fp32 and ONNX int8.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from persian_chat import chat_template
from persian_chat.chat_format import Conversation, Message
from persian_chat.server.kv.onnx_model import Array, Decoder

log = logging.getLogger("persian_chat.export")

# Chosen from measurement (see the export issue note): ORT's fused fp32 kernels differ from
# PyTorch by ~1e-5 to 1e-4 on these models; int8 costs well under 3% perplexity.
FP32_MAX_LOGIT_DIFF = 1e-3
INT8_MAX_PERPLEXITY_INCREASE = 0.03
GREEDY_STEPS = 64

PARITY_PROMPTS: tuple[list[Message], ...] = (
    [{"role": "user", "content": "سلام! حالت چطور است؟"}],
    [{"role": "user", "content": "پایتخت ایران کجاست؟"}],
    [{"role": "user", "content": "غزل شمارهٔ ۱ دیوان حافظ را بخوان."}],
)


@dataclass
class ParityReport:
    fp32_max_abs_logit_diff: float | None = None
    greedy_agreement: dict[str, Any] = field(default_factory=dict)
    perplexity: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fp32_max_abs_logit_diff": self.fp32_max_abs_logit_diff,
            "greedy_agreement": self.greedy_agreement,
            "perplexity": self.perplexity,
            "tolerances": {
                "fp32_max_abs_logit_diff": FP32_MAX_LOGIT_DIFF,
                "int8_max_perplexity_increase_over_fp32": INT8_MAX_PERPLEXITY_INCREASE,
            },
            "passed": not self.failures,
            "failures": self.failures,
        }


def prompt_ids(tokenizer: Any, messages: list[Message]) -> list[int]:
    """A transformers tokenizer's prompt ids, built as the server builds them."""
    return chat_template.prompt_ids(
        tokenizer, messages, tokenizer.bos_token, tokenizer.chat_template
    )


def torch_logits(model: Any, ids: list[int]) -> Array:
    import torch

    with torch.inference_mode():
        return np.asarray(model(torch.tensor([ids])).logits[0].float().numpy())


def torch_greedy(model: Any, ids: list[int], steps: int) -> list[int]:
    """Greedy decoding with the KV cache, never stopping early (so 64 steps compare)."""
    import torch

    out: list[int] = []
    with torch.inference_mode():
        result = model(torch.tensor([ids]), use_cache=True)
        for _ in range(steps):
            token = int(result.logits[0, -1].argmax())
            out.append(token)
            result = model(
                torch.tensor([[token]]), past_key_values=result.past_key_values, use_cache=True
            )
    return out


def onnx_perplexity(
    decoder: Decoder,
    tokenizer: Any,
    conversations: list[Conversation],
    max_length: int,
    label: str = "onnx",
) -> float:
    from persian_chat.training.chat_data import IGNORE_INDEX, encode_conversation

    nll, count = 0.0, 0
    for conversation in tqdm(conversations, desc=f"perplexity ({label})", unit="conversation"):
        encoded = encode_conversation(tokenizer, conversation, max_length)
        logits = decoder.sequence_logits(encoded.input_ids)[:-1].astype(np.float64)
        targets = np.array(encoded.labels[1:])
        keep = targets != IGNORE_INDEX
        if not keep.any():
            continue
        rows = logits[keep]
        log_norm = np.log(np.exp(rows - rows.max(axis=1, keepdims=True)).sum(axis=1)) + rows.max(
            axis=1
        )
        nll += float((log_norm - rows[np.arange(len(rows)), targets[keep]]).sum())
        count += int(keep.sum())
    return math.exp(nll / max(count, 1))


def check_parity(
    model: Any,
    tokenizer: Any,
    fp32: Decoder,
    int8: Decoder | None,
    conversations: list[Conversation],
    max_length: int,
) -> ParityReport:
    from persian_chat.training.evaluate import score

    report = ParityReport()
    prompts = [prompt_ids(tokenizer, p) for p in PARITY_PROMPTS]
    log.info("parity 1/4: fp32 ONNX logits against PyTorch on %d prompts", len(prompts))
    report.fp32_max_abs_logit_diff = max(
        float(np.abs(torch_logits(model, ids) - fp32.sequence_logits(ids)).max()) for ids in prompts
    )
    if report.fp32_max_abs_logit_diff > FP32_MAX_LOGIT_DIFF:
        report.failures.append(
            f"fp32 ONNX logits differ from PyTorch by {report.fp32_max_abs_logit_diff:.2e} "
            f"(> {FP32_MAX_LOGIT_DIFF:.0e})"
        )
    count = len(conversations)
    log.info("parity 2/4: perplexity on %d test conversations (PyTorch, fp32 ONNX)", count)
    report.perplexity["pytorch"] = round(
        score(model, tokenizer, conversations, max_length).perplexity, 4
    )
    report.perplexity["onnx_fp32"] = round(
        onnx_perplexity(fp32, tokenizer, conversations, max_length, "onnx fp32"), 4
    )
    log.info("parity 3/4: greedy agreement over %d steps", GREEDY_STEPS)
    checked = {"fp32": fp32} if int8 is None else {"fp32": fp32, "int8": int8}
    references = [torch_greedy(model, ids, GREEDY_STEPS) for ids in tqdm(prompts, "greedy (torch)")]
    for name, decoder in checked.items():
        matches, first_divergence = 0, []
        total = 0
        for ids, expected in tqdm(list(zip(prompts, references, strict=True)), f"greedy ({name})"):
            actual = decoder.greedy(ids, GREEDY_STEPS, stop_ids=set())
            total += len(expected)
            matches += sum(a == b for a, b in zip(expected, actual, strict=True))
            diverge = next(
                (i for i, (a, b) in enumerate(zip(expected, actual, strict=True)) if a != b), None
            )
            first_divergence.append(diverge)
        report.greedy_agreement[name] = {
            "steps": GREEDY_STEPS,
            "prompts": len(prompts),
            "agreement": round(matches / total, 4),
            "first_divergence": first_divergence,
        }
    if int8 is not None:
        log.info("parity 4/4: int8 perplexity")
        ppl8 = onnx_perplexity(int8, tokenizer, conversations, max_length, "onnx int8")
        report.perplexity["onnx_int8"] = round(ppl8, 4)
        increase = ppl8 / report.perplexity["onnx_fp32"] - 1
        report.perplexity["int8_increase_over_fp32"] = round(increase, 5)
        if increase > INT8_MAX_PERPLEXITY_INCREASE:
            report.failures.append(
                f"int8 perplexity {ppl8:.3f} is {increase:.1%} above fp32 "
                f"(> {INT8_MAX_PERPLEXITY_INCREASE:.0%})"
            )
    return report
