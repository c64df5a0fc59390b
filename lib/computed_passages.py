"""Passages computed from the question: arithmetic on two numbers, and a date converted
between the Jalali and Gregorian calendars with its weekday.

A 270M model reads a passage well and computes badly (on the held-out set: 4% of sums and
products right, 0% of calendar conversions, with fluent wrong answers). So, as the server
puts retrieved passages in front of a question, it puts a computed one there too: the
question's own numbers or date, worked out exactly (Python's integers, jdatetime), in the
words a passage uses, and the model answers by reading it. A question gets a computed
passage only when it is plainly a calculation: two numbers and one operation word, or a day,
month name and year; anything else gets none.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from fractions import Fraction

import jdatetime

from persian_chat.knowledge import Passage
from persian_chat.normalize import convert_digits
from persian_chat.persian_numbers import numbers_in, persian_digits

SOURCE = "computed"
MAX_WORDS = 20  # a longer message is a conversation that mentions numbers, not a sum
JALALI_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
GREGORIAN_MONTHS = (
    "ژانویه",
    "فوریه",
    "مارس",
    "آوریل",
    "مه",
    "ژوئن",
    "ژوئیه",
    "اوت",
    "سپتامبر",
    "اکتبر",
    "نوامبر",
    "دسامبر",
)
# other spellings users write, by month number
GREGORIAN_VARIANTS = {"ژانویهٔ": 1, "می": 5, "جولای": 7, "ژوییه": 7, "آگوست": 8, "اوت": 8}
# Indexed by datetime.date.weekday(): Monday is 0.
WEEKDAYS = ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنج‌شنبه", "جمعه", "شنبه", "یکشنبه")


@dataclass(frozen=True)
class Operation:
    name: str  # in the passage: «حاصل جمع»
    symbol: str
    words: tuple[str, ...]  # a word of the question that is one of these, or one of them
    stems: tuple[str, ...]  # with a suffix («ضربش», «علاوهٔ»), names the operation


OPERATIONS = (
    Operation("جمع", "+", ("جمع", "جمعش", "+", "اضافه"), ("علاوه", "بعلاوه")),
    Operation("تفریق", "−", ("کم", "−"), ("منها", "تفریق", "تفاضل")),
    Operation("ضرب", "×", ("×", "*"), ("ضرب",)),
    Operation("تقسیم", "÷", ("÷",), ("تقسیم",)),
)
_WORD = re.compile(r"[^\s\u200c؟?!.،,:؛«»()]+")
_SYMBOLS = re.compile(r"(?<=\d)\s*([+×*÷−-])\s*(?=\d)")
_MONTH_NAMES = {name: (i + 1, "jalali") for i, name in enumerate(JALALI_MONTHS)} | {
    name: (i + 1, "gregorian") for i, name in enumerate(GREGORIAN_MONTHS)
}
_MONTH_NAMES |= {name: (month, "gregorian") for name, month in GREGORIAN_VARIANTS.items()}
_DATE = re.compile(r"(\d{1,2})\s+(\S+)\s+(\d{3,4})")


def _number_text(value: Fraction) -> str:
    """An exact result in Persian digits: an integer, else at most two decimals («۲٫۵»)."""
    if value.denominator == 1:
        return persian_digits(int(value))
    rounded = f"{float(value):.2f}".rstrip("0")
    return persian_digits(rounded.replace(".", "٫").replace("-", "منفی "))


def _operation(words: list[str]) -> Operation | None:
    """The one operation the words name (None for none, or for two: not plainly a sum)."""
    found = {
        op.symbol
        for op in OPERATIONS
        for w in words
        if w in op.words or any(w.startswith(stem) for stem in op.stems)
    }
    if len(found) != 1:
        return None
    return next(op for op in OPERATIONS if op.symbol in found)


def arithmetic_passage(question: str) -> Passage | None:
    """«۶۷ + ۶۰ = ۱۲۷ ...» for a question with two numbers and one operation, else None."""
    latin = convert_digits(question, "latin")
    spaced = _SYMBOLS.sub(r" \1 ", latin).replace("-", "−")
    words = _WORD.findall(spaced)
    if len(words) > MAX_WORDS:
        return None
    numbers = numbers_in(spaced)
    operation = _operation(words)
    if len(numbers) != 2 or operation is None:
        return None
    (a, _), (b, b_at) = numbers
    if operation.symbol == "−" and re.search(r"(^|\s)از\s*$", spaced[:b_at]):
        a, b = b, a  # «۲۰ را از ۶۷ کم کن»: the number after «از» is the one subtracted from
    if operation.symbol == "÷" and b == 0:
        return None
    compute = {
        "+": lambda: Fraction(a + b),
        "−": lambda: Fraction(a - b),
        "×": lambda: Fraction(a * b),
        "÷": lambda: Fraction(a, b),
    }
    result = _number_text(compute[operation.symbol]())
    left, right = persian_digits(a), persian_digits(b)
    joined = "بر" if operation.symbol == "÷" else "و"
    text = (
        f"{left} {operation.symbol} {right} = {result}. "
        f"حاصل {operation.name} {left} {joined} {right} برابر با {result} است."
    )
    return Passage(f"computed:{operation.symbol}", "حساب", text, SOURCE, "arithmetic")


def _date(day: int, month: int, year: int, calendar: str) -> datetime.date | None:
    try:
        if calendar == "jalali":
            converted: datetime.date = jdatetime.date(year, month, day).togregorian()
            return converted
        return datetime.date(year, month, day)
    except ValueError:
        return None


def date_passage(question: str) -> Passage | None:
    """The date in the question in both calendars with its weekday, else None."""
    latin = convert_digits(question, "latin")
    for match in _DATE.finditer(latin):
        named = _MONTH_NAMES.get(match.group(2))
        if named is None:
            continue
        month, calendar = named
        day = _date(int(match.group(1)), month, int(match.group(3)), calendar)
        if day is None:
            continue
        j = jdatetime.date.fromgregorian(date=day)
        jalali = f"{persian_digits(j.day)} {JALALI_MONTHS[j.month - 1]} {persian_digits(j.year)}"
        gregorian = (
            f"{persian_digits(day.day)} {GREGORIAN_MONTHS[day.month - 1]} "
            f"{persian_digits(day.year)}"
        )
        text = (
            f"{jalali} شمسی برابر با {gregorian} میلادی است. "
            f"{jalali} شمسی و {gregorian} میلادی {WEEKDAYS[day.weekday()]} است."
        )
        return Passage(f"computed:date:{day.isoformat()}", "تقویم", text, SOURCE, "calendar")
    return None


def computed_passages(question: str) -> list[Passage]:
    """The computed passages for a user's message (most often none)."""
    date = date_passage(question)
    if date is not None:
        return [date]
    arithmetic = arithmetic_passage(question)
    return [arithmetic] if arithmetic is not None else []
