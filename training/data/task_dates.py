"""Calendar questions generated with `jdatetime`: Jalali<->Gregorian conversion and the
weekday of a date, all in Persian digits and Persian month names.

Dates are drawn by hash (not a random generator) from 1950-2040, so the set is the same on
every run; each date is its own split group, so test dates are dates never seen in training.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator

import jdatetime

from persian_chat.computed_passages import GREGORIAN_MONTHS, JALALI_MONTHS, WEEKDAYS
from persian_chat.persian_numbers import persian_digits
from persian_chat.training.data.phrasing import phrased_turn
from persian_chat.training.data.records import Example

DOMAIN = "dates_numbers"
FIRST, LAST = datetime.date(1950, 1, 1), datetime.date(2040, 12, 31)
DATE_COUNT = 320

JALALI, GREGORIAN = "شمسی", "میلادی"

TO_GREGORIAN_PROMPTS = (
    "تاریخ {date} شمسی به میلادی چه روزی می‌شود؟",
    "{date} شمسی را به تاریخ میلادی تبدیل کن.",
    "معادل میلادی {date} شمسی چیست؟",
    "{date} هجری شمسی در تقویم میلادی چه تاریخی است؟",
)
TO_JALALI_PROMPTS = (
    "تاریخ {date} میلادی به شمسی چه روزی می‌شود؟",
    "{date} میلادی را به تاریخ شمسی تبدیل کن.",
    "معادل شمسی {date} میلادی چیست؟",
    "{date} میلادی در تقویم شمسی چه تاریخی است؟",
)
CONVERSION_ANSWERS = (
    "{date} {calendar} برابر با {answer} {target} است.",
    "معادل {target} آن {answer} است.",
    "در تقویم {target} می‌شود {answer}.",
)
WEEKDAY_PROMPTS = (
    "{date} {calendar} چه روزی از هفته است؟",
    "{date} {calendar} چندشنبه است؟",
    "روز هفتهٔ {date} {calendar} را بگو.",
    "{date} {calendar} مصادف با چه روزی از هفته است؟",
)
WEEKDAY_ANSWERS = (
    "{date} {calendar} {weekday} است.",
    "{weekday}.",
    "آن روز {weekday} است.",
)


def jalali_text(day: datetime.date) -> str:
    """«۱ فروردین ۱۴۰۲»: the Jalali date of a Gregorian `day`, in words and Persian digits."""
    j = jdatetime.date.fromgregorian(date=day)
    return f"{persian_digits(j.day)} {JALALI_MONTHS[j.month - 1]} {persian_digits(j.year)}"


def gregorian_text(day: datetime.date) -> str:
    """«۲۱ مارس ۲۰۲۳»."""
    return f"{persian_digits(day.day)} {GREGORIAN_MONTHS[day.month - 1]} {persian_digits(day.year)}"


def weekday_name(day: datetime.date) -> str:
    return WEEKDAYS[day.weekday()]


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def sample_dates(count: int = DATE_COUNT) -> list[datetime.date]:
    """`count` distinct dates between FIRST and LAST, the same ones every run."""
    span = (LAST - FIRST).days + 1
    chosen: set[datetime.date] = set()
    index = 0
    while len(chosen) < count:
        chosen.add(FIRST + datetime.timedelta(days=_hash(f"date:{index}") % span))
        index += 1
    return sorted(chosen)


def date_examples(day: datetime.date) -> Iterator[Example]:
    """One conversion (direction chosen by hash) and one weekday question about `day`."""
    key = f"date:{day.isoformat()}"
    jalali, gregorian = jalali_text(day), gregorian_text(day)
    if _hash(key + ":direction") % 2:
        given, calendar, answer, target = jalali, JALALI, gregorian, GREGORIAN
        prompts = TO_GREGORIAN_PROMPTS
    else:
        given, calendar, answer, target = gregorian, GREGORIAN, jalali, JALALI
        prompts = TO_JALALI_PROMPTS
    fields = {"date": given, "calendar": calendar, "answer": answer, "target": target}
    yield Example(
        phrased_turn(prompts, CONVERSION_ANSWERS, fields, key + ":q", key + ":a"),
        f"{key}:convert",
        key,
        DOMAIN,
        answer,
    )
    weekday = weekday_name(day)
    asked, calendar = (jalali, JALALI) if _hash(key + ":weekday") % 2 else (gregorian, GREGORIAN)
    fields = {"date": asked, "calendar": calendar, "weekday": weekday}
    yield Example(
        phrased_turn(WEEKDAY_PROMPTS, WEEKDAY_ANSWERS, fields, key + ":wq", key + ":wa"),
        f"{key}:weekday",
        key,
        DOMAIN,
        weekday,
    )


def dates_examples() -> Iterator[Example]:
    for day in sample_dates():
        yield from date_examples(day)
