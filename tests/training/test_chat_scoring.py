from __future__ import annotations

from typing import Any

import pytest

from persian_chat.training.chat_prompts import parse_row
from persian_chat.training.chat_scoring import aggregate, score_answer, summarize, worst

from .chat_rows import row

FACT = parse_row(row("facts_geography", "پایتخت ایران کجاست؟", "تهران است.", "تهران"), 1)
SENTIMENT = parse_row(row("sentiment", "احساس این نظر؟", "مثبت", "مثبت"), 2)
CHAT = parse_row(row("greetings_smalltalk", "سلام", "سلام! خوبم."), 3)
HAFEZ = parse_row(
    row(
        "hafez",
        "ادامه این مصراع حافظ را بگو: «صلاح کار کجا و من خراب کجا»",
        "ببین تفاوت ره کز کجاست تا به کجا",
    ),
    4,
)
LOOP = "بهار بنویس " * 8


def test_score_answer(normalizer: Any) -> None:
    norm = normalizer.normalize
    hit = score_answer(FACT, "greedy", "پایتخت ایران تهران است.", "stop", norm)
    assert hit.correct is True and not hit.looped and hit.persian_share == 1.0
    assert hit.words == 4 and hit.chrf is None and hit.flags == []
    miss = score_answer(FACT, "greedy", LOOP, "length", norm)
    assert miss.correct is False and miss.looped and miss.flags == ["loop", "wrong"]
    assert score_answer(SENTIMENT, "default", "منفی است.", "stop", norm).correct is False
    assert score_answer(CHAT, "greedy", "سلام", "stop", norm).correct is None
    same = score_answer(HAFEZ, "greedy", HAFEZ.reference, "stop", norm)
    assert same.chrf == pytest.approx(100.0) and same.correct is None


def test_answers_meant_to_be_english_are_left_out_of_the_persian_share(normalizer: Any) -> None:
    to_english = parse_row(row("translation", "ترجمه کن: «سلام»", "Hello"), 5)
    to_persian = parse_row(row("translation", "Translate: «Hello»", "سلام"), 6)
    norm = normalizer.normalize
    assert score_answer(to_english, "greedy", "Hello", "stop", norm).persian_share is None
    assert score_answer(to_persian, "greedy", "Hello", "stop", norm).persian_share == 0.0
    assert score_answer(FACT, "greedy", "Tehran", "stop", norm).persian_share == 0.0
    digits = parse_row(row("arithmetic", "۲ + ۳؟", "۵", "۵"), 7)  # no letters: Persian
    assert score_answer(digits, "greedy", "five", "stop", norm).persian_share == 0.0


def test_aggregate_rates_and_task_figures(normalizer: Any) -> None:
    norm = normalizer.normalize
    scores = [
        score_answer(FACT, "greedy", "تهران", "stop", norm),
        score_answer(FACT, "greedy", "hello \ufffd", "stop", norm),
        score_answer(CHAT, "greedy", LOOP, "length", norm),
        score_answer(CHAT, "greedy", "۱۲۳", "stop", norm),  # no letters: no Persian share
        score_answer(HAFEZ, "greedy", HAFEZ.reference, "stop", norm),
    ]
    figures = aggregate(scores)
    assert figures["answers"] == 5
    assert figures["loop_rate"] == 0.2
    assert figures["replacement_char_rate"] == 0.2
    assert figures["truncated_rate"] == 0.2
    assert figures["persian_share"] == 0.75  # (1 + 0 + 1 + 1) / 4 answers with letters
    assert figures["exact_match"] == 0.5 and figures["exact_match_n"] == 2
    assert figures["sentiment_accuracy"] is None and figures["sentiment_n"] == 0
    assert figures["chrf_hafez"] == pytest.approx(100.0) and figures["chrf_hafez_n"] == 1
    assert figures["chrf_translation"] is None
    summary = summarize(scores)
    assert summary["overall"] == figures
    assert list(summary["categories"]) == [
        "facts_geography",
        "greetings_smalltalk",
        "hafez_continuation",
    ]
    assert summary["categories"]["greetings_smalltalk"]["loop_rate"] == 0.5


def test_worst_puts_loops_first_then_wrong_answers(normalizer: Any) -> None:
    norm = normalizer.normalize
    good = score_answer(CHAT, "greedy", "سلام! خوبم.", "stop", norm)
    looped = score_answer(CHAT, "greedy", LOOP, "length", norm)
    latin = score_answer(CHAT, "greedy", "hello there", "stop", norm)
    right = score_answer(FACT, "greedy", "تهران", "stop", norm)
    wrong = score_answer(FACT, "greedy", "شیراز", "stop", norm)
    assert worst([good, latin, looped, right, wrong], 1) == [wrong, looped]
    assert worst([good, latin], 2) == [latin, good]
    assert worst([good], 0) == []


def test_a_refusal_counts_only_where_an_answer_was_due(normalizer: Any) -> None:
    """«نمی‌دانم» to a greeting is a refusal where an answer was due; to a question whose
    held-out answer refuses too it is what was asked for, and is left out of the rate."""
    norm = normalizer.normalize
    unknowable = parse_row(row("reading_refusal", "قیمت طلا فردا؟", "نمی‌دانم.", "نمی‌دانم"), 8)
    refused = score_answer(CHAT, "default", "متأسفم، این را نمی‌دانم.", "stop", norm)
    answered = score_answer(CHAT, "default", "سلام! خوبم، ممنون.", "stop", norm)
    due_refusal = score_answer(unknowable, "default", "نمی‌دانم.", "stop", norm)
    assert refused.refused is True and refused.flags == ["refused"]
    assert answered.refused is False and due_refusal.refused is None
    figures = aggregate([refused, answered, due_refusal])
    assert figures["refusal_rate"] == 0.5 and figures["answer_due_n"] == 2
    assert worst([answered, refused], 1)[0] is refused
