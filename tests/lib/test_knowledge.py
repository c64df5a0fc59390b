"""The passage layout training, evaluation and serving share, and retrieval's word forms."""

from __future__ import annotations

from persian_chat.knowledge import (
    PASSAGES_HEADING,
    QUESTION_HEADING,
    Passage,
    fold_words,
    reductions,
    with_passages,
)

JAPAN = Passage("country:ژاپن", "ژاپن", "پایتخت ژاپن شهر توکیو است.", "countries", "geography")
MESSAGES = [
    {"role": "system", "content": "دستیار"},
    {"role": "user", "content": "سلام"},
    {"role": "assistant", "content": "درود"},
    {"role": "user", "content": "پایتختش کجاست؟"},
]


def test_passages_go_in_front_of_the_last_question_only() -> None:
    out = with_passages(MESSAGES, [JAPAN])
    assert out[:3] == MESSAGES[:3]  # the system prompt and earlier turns are untouched
    assert out[3]["content"] == (
        f"{PASSAGES_HEADING}\n\n[1] ژاپن\nپایتخت ژاپن شهر توکیو است.\n\n"
        f"{QUESTION_HEADING} پایتختش کجاست؟"
    )
    assert MESSAGES[3]["content"] == "پایتختش کجاست؟"  # not changed in place


def test_no_passages_leave_the_messages_as_they_are() -> None:
    assert with_passages(MESSAGES, []) == MESSAGES


def test_words_are_folded_one_way_for_passages_and_queries() -> None:
    assert fold_words("كتاب يزد") == fold_words("کتاب یزد") == ["کتاب", "یزد"]
    assert fold_words("۱۲۳ و ١٢٣ و 123") == ["123", "123", "123"]
    assert fold_words("می‌نویسم") == fold_words("مینویسم") == ["مینویسم"]
    assert fold_words("کِتاب") == ["کتاب"]  # vowel marks never cut a word apart
    assert fold_words("پایتخت ژاپن کجاست؟") == ["پایتخت", "ژاپن"]  # stopwords out


def test_a_word_reduces_to_the_passage_words_it_stands_for() -> None:
    vocabulary = {"پایتخت", "ژاپن", "کتاب", "کتابها", "ایران", "خواب", "دندان"}
    assert reductions("پایتختش", vocabulary) == ["پایتخت"]
    assert reductions("پایتختشون", vocabulary) == ["پایتخت"]
    assert reductions("ژاپنیها", vocabulary) == ["ژاپن"]
    assert reductions("کتابها", vocabulary) == ["کتابها", "کتاب"]
    assert reductions("ایران", vocabulary) == ["ایران"]  # a passage word is never cut down
    assert reductions("بخوابه", vocabulary) == ["خواب"]  # colloquial verb, prefix, person
    assert reductions("دندون", vocabulary) == ["دندان"]  # colloquial «ون» for «ان»
    assert reductions("زرکستان", vocabulary) == []  # a word no passage has
