from __future__ import annotations

from typing import Any

import pytest

from persian_chat.training.chat_metrics import (
    chrf,
    exact_match,
    has_loop,
    has_replacement_char,
    persian_share,
    sentence_chrf,
    sentiment_correct,
    sentiment_label,
    words,
)


def test_words_drop_punctuation_and_keep_zwnj_words() -> None:
    assert words("سلام! می‌خواهم «کتاب‌ها» را بخوانم؟") == [
        "سلام",
        "می‌خواهم",
        "کتاب‌ها",
        "را",
        "بخوانم",
    ]


def test_a_looping_answer_is_flagged() -> None:
    assert has_loop("بهار بنویس / " * 6)
    assert has_loop("که در آن چه " * 5)


def test_a_normal_answer_is_not_flagged() -> None:
    answer = (
        "برای صبحانهٔ سالم نان سبوس‌دار، پنیر و گردو بخورید. اگر وقت دارید یک لیوان شیر "
        "و کمی میوه هم کنار آن بگذارید تا ظهر سیر بمانید."
    )
    assert not has_loop(answer)
    assert not has_loop("")


def test_loop_needs_a_4gram_three_times() -> None:
    gram = "یک دو سه چهار "
    assert not has_loop(gram * 2)  # twice: not yet
    assert has_loop(gram * 2 + "یک دو سه چهار")  # the third occurrence
    assert not has_loop("الف ب " * 3)  # only 6 words: each 4-gram occurs at most twice


def test_persian_share_counts_letters_only() -> None:
    assert persian_share("سلام hello") == pytest.approx(4 / 9)
    assert persian_share("سلام، ۱۲۳ و 456!") == 1.0
    assert persian_share("hello") == 0.0
    assert persian_share("۱۲۳ ...") is None


def test_replacement_character() -> None:
    assert has_replacement_char("سلا\ufffd")
    assert not has_replacement_char("سلام")


def test_exact_match_is_whole_words_after_normalization(normalizer: Any) -> None:
    norm = normalizer.normalize
    assert exact_match("پایتخت ایران تهران است.", "تهران", norm)
    assert not exact_match("او تهرانی است.", "تهران", norm)
    assert exact_match("مرکز این استان كرمان است", "کرمان", norm)  # Arabic kaf
    assert exact_match("حاصل ۱۲ می‌شود.", "12", norm)  # digit scripts agree
    assert not exact_match("حاصل ۱۲۰ می‌شود.", "۱۲", norm)
    assert exact_match("بزرگ‌ترین دریاچه، دریای خزر است.", "دریای خزر", norm)
    assert not exact_match("خزر یک دریای بزرگ است.", "دریای خزر", norm)
    assert exact_match("The capital is Tehran.", "tehran", norm)  # case-folded
    assert exact_match("پاسخ آنکارا است.", ["آنکارا", "Ankara"], norm)
    assert not exact_match("نمی‌دانم.", ["آنکارا", "Ankara"], norm)
    assert not exact_match("هر چیزی", "", norm)


def test_sentiment_label_is_the_first_label_word(normalizer: Any) -> None:
    norm = normalizer.normalize
    assert sentiment_label("این نظر مثبت است.", norm) == "positive"
    assert sentiment_label("احساس این جمله منفی است", norm) == "negative"
    assert sentiment_label("لحن آن بی‌طرف است.", norm) == "neutral"
    assert sentiment_label("خنثی", norm) == "neutral"
    assert sentiment_label("مثبت است، نه منفی.", norm) == "positive"
    assert sentiment_label("منفی‌بافی نکن.", norm) is None  # not the whole word
    assert sentiment_label("نمی‌دانم.", norm) is None


def test_sentiment_correct(normalizer: Any) -> None:
    norm = normalizer.normalize
    assert sentiment_correct("به نظرم مثبت است.", "مثبت", norm)
    assert not sentiment_correct("به نظرم منفی است.", "مثبت", norm)
    assert not sentiment_correct("معلوم نیست.", "خنثی", norm)
    with pytest.raises(ValueError, match="not one of the labels"):
        sentiment_correct("مثبت", "خوب", norm)


def test_chrf_of_identical_strings_is_100() -> None:
    text = "دوش دیدم که ملائک در میخانه زدند"
    assert chrf([text], [text]) == pytest.approx(100.0)
    assert sentence_chrf(text, text) == pytest.approx(100.0)
    assert 0 < chrf(["دوش دیدم"], [text]) < 100
    assert chrf(["hello"], [text]) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        chrf(["a", "b"], ["a"])
