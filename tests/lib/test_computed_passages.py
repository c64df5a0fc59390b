from __future__ import annotations

import datetime

import jdatetime
import pytest

from persian_chat.computed_passages import (
    GREGORIAN_MONTHS,
    JALALI_MONTHS,
    WEEKDAYS,
    computed_passages,
)
from persian_chat.persian_numbers import number_to_words, persian_digits


@pytest.mark.parametrize(
    ("question", "result"),
    [
        ("اگر ۶۷ را با ۶۰ جمع کنیم، چند می‌شود؟", "۶۷ + ۶۰ = ۱۲۷"),
        ("حاصل‌ضرب ۶ و ۱۱ چقدر است؟", "۶ × ۱۱ = ۶۶"),
        ("۲۰ را از ۶۷ کم کن.", "۶۷ − ۲۰ = ۴۷"),
        ("اگر از ۶۷ عدد ۲۰ را کم کنیم، چند می‌ماند؟", "۶۷ − ۲۰ = ۴۷"),
        ("هفت به علاوهٔ پنج چند میشه؟", "۷ + ۵ = ۱۲"),
        ("12*12=?", "۱۲ × ۱۲ = ۱۴۴"),
        ("حاصل ۴۵ - ۱۸ چیست؟", "۴۵ − ۱۸ = ۲۷"),
        ("صد تقسیم بر هشت", "۱۰۰ ÷ ۸ = ۱۲٫۵"),
        ("بیست و سه منهای چهل", "۲۳ − ۴۰ = -۱۷"),
    ],
)
def test_a_calculation_gets_its_exact_result(question: str, result: str) -> None:
    (passage,) = computed_passages(question)
    assert passage.text.startswith(result + "."), passage.text
    assert passage.source == "computed"


@pytest.mark.parametrize(
    "question",
    [
        "سلام، خوبی؟",
        "جمعه‌ها ساعت ۵ تا ۷ باز است؟",  # two numbers, no operation
        "۳ تخم‌مرغ و ۲ پیمانه آرد را با هم مخلوط کن",
        "۲ و ۳ و ۴ را جمع کن",  # three numbers: not plainly two
        "۸ را بر صفر تقسیم کن",
        "۴ را با ۵ جمع کن و از ۳ کم کن",  # two operations
        "پایتخت ژاپن کجاست؟",
    ],
)
def test_anything_else_gets_none(question: str) -> None:
    assert computed_passages(question) == []


def test_every_written_sum_up_to_a_hundred_is_read() -> None:
    """Numbers in words as the corpus writes them, for every pair of a grid up to 100."""
    for a in range(1, 101, 7):
        for b in range(1, 101, 11):
            question = f"{number_to_words(a)} به علاوهٔ {number_to_words(b)} چند می‌شود؟"
            (passage,) = computed_passages(question)
            assert passage.text.startswith(f"{persian_digits(a)} + {persian_digits(b)} = ")
            assert f"= {persian_digits(a + b)}." in passage.text


def test_a_date_is_given_in_both_calendars_with_its_weekday() -> None:
    for offset in range(0, 30000, 997):
        day = datetime.date(1950, 1, 1) + datetime.timedelta(days=offset)
        j = jdatetime.date.fromgregorian(date=day)
        jalali = f"{persian_digits(j.day)} {JALALI_MONTHS[j.month - 1]} {persian_digits(j.year)}"
        gregorian = (
            f"{persian_digits(day.day)} {GREGORIAN_MONTHS[day.month - 1]} "
            f"{persian_digits(day.year)}"
        )
        for question in (f"{jalali} شمسی به میلادی چه روزی است؟", f"{gregorian} چندشنبه است؟"):
            (passage,) = computed_passages(question)
            assert f"{jalali} شمسی برابر با {gregorian} میلادی است." in passage.text
            assert passage.text.endswith(f"{WEEKDAYS[day.weekday()]} است.")
    assert computed_passages("۳۱ اسفند ۱۴۰۳ شمسی چه روزی است؟") == []  # no such day
