"""The knowledge part of the chat evaluation: the served model with its knowledge base.

Three figures, on the served engine with the server's own prompt building (so what is
measured is what users get): grounded exact match with retrieval on and off (questions whose
answer the knowledge base holds, in held-out phrasings), the share of unanswerable questions
answered with "I don't know" instead of an invention, and retrieval's recall (the right
passage among those the prompt was given).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from persian_chat.server.engine.core import Engine
from persian_chat.server.http.api_schema import ChatRequest
from persian_chat.server.http.prompt_request import build_prompt
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import Prompt, PromptError
from persian_chat.server.text.retriever import Retriever
from persian_chat.server.text.served_model import ServedModel
from persian_chat.training.chat_metrics import exact_match
from persian_chat.training.data.knowledge_questions import (
    Question,
    grounded_questions,
    unanswerable_questions,
)

log = logging.getLogger("persian_chat.evaluate")
# how a polite "I don't know" begins or what it holds (normalized like the answers)
DONT_KNOW = (
    "نمی‌دانم",
    "نمیدانم",
    "نمی‌دونم",
    "اطلاعی ندارم",
    "اطلاعات کافی",
    "دسترسی ندارم",
    "خبر ندارم",
    "نمی‌توانم بگویم",
    "نمی‌توانم پاسخ",
    "مطمئن نیستم",
    "پاسخ این پرسش در",
    "در متن‌ها نیست",
    "در این متن‌ها نیامده",
    "اطلاع دقیقی ندارم",
    "نمی‌توانم بدانم",
)
Answerer = Callable[[Sequence[Prompt]], list[str]]


def says_dont_know(answer: str, normalize: Callable[[str], str]) -> bool:
    text = normalize(answer)
    return any(normalize(phrase) in text for phrase in DONT_KNOW)


def _jobs(
    questions: Sequence[Question],
    knowledge: Retriever | None,
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
    max_tokens: int,
    seed: int,
) -> list[Prompt]:
    jobs = []
    for index, question in enumerate(questions):
        body = ChatRequest.model_validate_json(
            json.dumps(
                {
                    "messages": [{"role": "user", "content": question.question}],
                    "seed": seed + index,
                }
            )
        )
        try:
            jobs.append(build_prompt(body, max_tokens, model, settings, normalize, "", knowledge))
        except PromptError as exc:  # a question is short: only a broken model gets here
            raise ValueError(f"{question.question!r}: {exc.message}") from None
    return jobs


def _rate(hits: Sequence[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def knowledge_eval(
    model: ServedModel,
    settings: ServerSettings,
    knowledge: Retriever,
    answer: Answerer,
    normalize: Callable[[str], str],
    tables: Path,
    eval_sources: Path,
    max_tokens: int,
    seed: int,
) -> dict[str, Any]:
    """Grounded exact match with retrieval on and off, the unanswerable questions' "I don't
    know" rate, and retrieval recall; `answer` runs prompts on the served engine."""
    grounded = grounded_questions(tables, eval_sources, normalize)
    unanswerable = unanswerable_questions(eval_sources, normalize)
    on = _jobs(grounded, knowledge, model, settings, normalize, max_tokens, seed)
    off = _jobs(grounded, None, model, settings, normalize, max_tokens, seed)
    refuse = _jobs(unanswerable, knowledge, model, settings, normalize, max_tokens, seed)
    texts = answer([*on, *off, *refuse])
    on_texts, off_texts = texts[: len(on)], texts[len(on) : 2 * len(on)]
    refuse_texts = texts[2 * len(on) :]

    def correct(texts: Sequence[str]) -> list[bool]:
        return [exact_match(t, q.answer, normalize) for t, q in zip(texts, grounded, strict=True)]

    right_on, right_off = correct(on_texts), correct(off_texts)
    found = [
        q.passage_id in {p.id for p in job.sources} for q, job in zip(grounded, on, strict=True)
    ]
    kinds = sorted(Counter(q.kind for q in grounded))
    refused = [says_dont_know(t, normalize) for t in refuse_texts]
    return {
        "grounded": {
            "questions": len(grounded),
            "exact_match_with_retrieval": _rate(right_on),
            "exact_match_without_retrieval": _rate(right_off),
            "retrieval_recall": _rate(found),
            # over-refusal: "I don't know" although the answer's passage was in the prompt
            "refused_with_passage": _rate(
                [says_dont_know(t, normalize) for t, f in zip(on_texts, found, strict=True) if f]
            ),
            "by_kind": {
                kind: {
                    "questions": sum(q.kind == kind for q in grounded),
                    "with_retrieval": _rate(
                        [r for r, q in zip(right_on, grounded, strict=True) if q.kind == kind]
                    ),
                    "without_retrieval": _rate(
                        [r for r, q in zip(right_off, grounded, strict=True) if q.kind == kind]
                    ),
                }
                for kind in kinds
            },
        },
        "unanswerable": {
            "questions": len(unanswerable),
            "dont_know_rate": _rate(refused),
            "given_passages": _rate([bool(job.sources) for job in refuse]),
        },
        "examples": [
            {
                "question": q.question,
                "expected": q.answer,
                "answer": t[:300],
                "sources": [p.id for p in job.sources],
                "correct": r,
            }
            for q, t, job, r in list(zip(grounded, on_texts, on, right_on, strict=True))[::40]
        ]
        + [
            {
                "question": q.question,
                "answer": t[:300],
                "sources": [p.id for p in job.sources],
                "dont_know": r,
            }
            for q, t, job, r in list(zip(unanswerable, refuse_texts, refuse, refused, strict=True))[
                ::16
            ]
        ],
    }


def engine_answerer(engine: Engine, model: ServedModel, progress: Any) -> Answerer:
    """Answers from the served engine, all prompts submitted at once (continuous batching)."""
    from persian_chat.training.chat_eval import generate_answers

    def answer(jobs: Sequence[Prompt]) -> list[str]:
        return [text.strip() for text, _, _ in generate_answers(engine, model, jobs, progress)]

    return answer
