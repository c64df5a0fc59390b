"""From answers to scores: each answer measured, then summed up per category and overall.

Rates and shares are over the answers of the group; the Persian share is the mean over
answers that have letters and should be Persian — a prompt whose reference answer is mostly
in another script (a translation into English) is left out of it; exact match, sentiment
accuracy and the two chrF scores are over the group's prompts of that task and null where the
group has none (with their counts, so a reader sees how many answers a figure rests on). The
refusal rate is over the prompts whose held-out answer does not refuse: an answer that says
«نمی‌دانم» there is a refusal where an answer was due (a greeting, advice, a sum).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from persian_chat.training import chat_metrics as m
from persian_chat.training.chat_prompts import EvalPrompt
from persian_chat.training.data.task_reading import REFUSAL_EXPECTED


@dataclass(frozen=True)
class AnswerScore:
    prompt: EvalPrompt
    mode: str  # sampling mode: greedy, default
    answer: str
    finish: str | None  # stop, length, error, ... as the engine ended it
    looped: bool
    persian_share: float | None  # None: no letters, or the answer should not be Persian
    words: int
    replacement_char: bool
    correct: bool | None  # exact match or sentiment, where the prompt has that task
    chrf: float | None  # sentence chrF, where the prompt's task is chrF
    refused: bool | None  # said «نمی‌دانم» where the reference answers; None: a refusal is due

    @property
    def flags(self) -> list[str]:
        flags = ["loop"] if self.looped else []
        flags += ["refused"] if self.refused else []
        flags += ["U+FFFD"] if self.replacement_char else []
        flags += ["wrong"] if self.correct is False else []
        flags += ["error"] if self.finish == "error" else []
        return flags


def should_be_persian(prompt: EvalPrompt) -> bool:
    """False when the reference answer is mostly in another script (English translations)."""
    share = m.persian_share(prompt.reference)
    return share is None or share >= 0.5


def score_answer(
    prompt: EvalPrompt, mode: str, answer: str, finish: str | None, normalize: m.Normalize
) -> AnswerScore:
    task = prompt.task
    correct: bool | None = None
    if task == "exact_match" and prompt.expected is not None:
        correct = m.exact_match(answer, prompt.expected, normalize)
    elif task == "sentiment" and isinstance(prompt.expected, str):
        correct = m.sentiment_correct(answer, prompt.expected, normalize)
    refusal_due = m.exact_match(prompt.reference, REFUSAL_EXPECTED, normalize)
    chrf = (
        m.sentence_chrf(answer, prompt.reference)
        if task in ("chrf_translation", "chrf_hafez")
        else None
    )
    return AnswerScore(
        prompt=prompt,
        mode=mode,
        answer=answer,
        finish=finish,
        looped=m.has_loop(answer),
        persian_share=m.persian_share(answer) if should_be_persian(prompt) else None,
        words=len(m.words(answer)),
        replacement_char=m.has_replacement_char(answer),
        correct=correct,
        chrf=chrf,
        refused=None if refusal_due else m.exact_match(answer, REFUSAL_EXPECTED, normalize),
    )


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def aggregate(scores: Sequence[AnswerScore]) -> dict[str, Any]:
    """The figures of one group of answers (a category, or all of them)."""
    n = len(scores)
    shares = [s.persian_share for s in scores if s.persian_share is not None]

    def task(name: str) -> list[AnswerScore]:
        return [s for s in scores if s.prompt.task == name]

    def accuracy(name: str) -> float | None:
        return _mean([float(bool(s.correct)) for s in task(name)])

    due = [s for s in scores if s.refused is not None]

    def chrf(name: str) -> float | None:
        rows = task(name)
        if not rows:
            return None
        return round(m.chrf([s.answer for s in rows], [s.prompt.reference for s in rows]), 2)

    return {
        "answers": n,
        "loop_rate": _mean([float(s.looped) for s in scores]),
        "persian_share": _mean(shares),
        "mean_words": round(sum(s.words for s in scores) / n, 1) if n else None,
        "replacement_char_rate": _mean([float(s.replacement_char) for s in scores]),
        "truncated_rate": _mean([float(s.finish == "length") for s in scores]),
        "errors": sum(s.finish == "error" for s in scores),
        "exact_match": accuracy("exact_match"),
        "exact_match_n": len(task("exact_match")),
        "sentiment_accuracy": accuracy("sentiment"),
        "sentiment_n": len(task("sentiment")),
        "chrf_translation": chrf("chrf_translation"),
        "chrf_translation_n": len(task("chrf_translation")),
        "chrf_hafez": chrf("chrf_hafez"),
        "chrf_hafez_n": len(task("chrf_hafez")),
        "refusal_rate": _mean([float(bool(s.refused)) for s in due]),
        "answer_due_n": len(due),
    }


def by_category(scores: Iterable[AnswerScore]) -> dict[str, list[AnswerScore]]:
    groups: dict[str, list[AnswerScore]] = defaultdict(list)
    for score in scores:
        groups[score.prompt.category].append(score)
    return dict(sorted(groups.items()))


def summarize(scores: Sequence[AnswerScore]) -> dict[str, Any]:
    """{"overall": figures, "categories": {category: figures}} for one sampling mode."""
    return {
        "overall": aggregate(scores),
        "categories": {name: aggregate(group) for name, group in by_category(scores).items()},
    }


def badness(score: AnswerScore) -> tuple[Any, ...]:
    """Sort key, worst first: loops, then U+FFFD, wrong task answers and refusals where an
    answer was due, errors, then the
    least Persian and the lowest chrF."""
    return (
        not score.looped,
        not score.replacement_char,
        score.correct is not False and not score.refused,
        score.finish != "error",
        score.persian_share if score.persian_share is not None else 0.0,
        score.chrf if score.chrf is not None else 100.0,
        score.prompt.line,
    )


def worst(scores: Iterable[AnswerScore], per_category: int) -> list[AnswerScore]:
    """The `per_category` worst answers of every category, categories in name order."""
    return [
        s
        for group in by_category(scores).values()
        for s in sorted(group, key=badness)[:per_category]
    ]
