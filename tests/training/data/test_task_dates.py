from __future__ import annotations

import datetime

import pytest

from persian_chat.training.data.records import Example
from persian_chat.training.data.task_dates import (
    date_examples,
    dates_examples,
    gregorian_text,
    jalali_text,
    sample_dates,
    weekday_name,
)

from .split_check import assert_split_by_entity


@pytest.mark.parametrize(
    ("day", "jalali", "weekday"),
    [
        (datetime.date(2023, 3, 21), "۱ فروردین ۱۴۰۲", "سه‌شنبه"),  # Nowruz 1402
        (datetime.date(2024, 3, 20), "۱ فروردین ۱۴۰۳", "چهارشنبه"),
        (datetime.date(2025, 3, 20), "۳۰ اسفند ۱۴۰۳", "پنج‌شنبه"),  # 1403 is a leap year
        (datetime.date(1979, 2, 11), "۲۲ بهمن ۱۳۵۷", "یکشنبه"),
        (datetime.date(2000, 1, 1), "۱۱ دی ۱۳۷۸", "شنبه"),
    ],
)
def test_known_dates(day: datetime.date, jalali: str, weekday: str) -> None:
    assert jalali_text(day) == jalali
    assert weekday_name(day) == weekday


def test_conversion_and_weekday_rows() -> None:
    day = datetime.date(2023, 3, 21)
    convert, weekday = date_examples(day)
    assert convert.expected in {"۱ فروردین ۱۴۰۲", "۲۱ مارس ۲۰۲۳"}
    other = ({"۱ فروردین ۱۴۰۲", "۲۱ مارس ۲۰۲۳"} - {convert.expected}).pop()
    assert other in convert.conversation["messages"][0]["content"]
    assert convert.expected in convert.conversation["messages"][1]["content"]
    assert weekday.expected == "سه‌شنبه"
    assert convert.group == weekday.group == "date:2023-03-21"
    assert gregorian_text(day) == "۲۱ مارس ۲۰۲۳"


def test_dates_are_a_fixed_sample_split_by_date() -> None:
    examples = list(dates_examples())
    assert examples == list(dates_examples())
    dates = sample_dates()
    assert len(set(dates)) == len(dates) >= 300
    assert min(dates).year >= 1950 and max(dates).year <= 2040

    def day_of(example: Example) -> str:
        return example.origin.split(":")[1]

    assert_split_by_entity(examples, day_of)
    prompts = {e.conversation["messages"][0]["content"].split("۱")[0] for e in examples}
    assert len(prompts) >= 8
