"""Numbers written the Persian way: Persian digits, and cardinal numbers in words.

Words follow the standard written form: parts joined by «و» (۱۲۳۴ → «هزار و دویست و سی و
چهار»), a bare «هزار» for one thousand, «یک میلیون» for one million, «هجده» for 18.
"""

from __future__ import annotations

import re

from persian_chat.normalize import convert_digits

ONES = ("", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه")
TEENS = (
    "ده",
    "یازده",
    "دوازده",
    "سیزده",
    "چهارده",
    "پانزده",
    "شانزده",
    "هفده",
    "هجده",
    "نوزده",
)
TENS = ("", "", "بیست", "سی", "چهل", "پنجاه", "شصت", "هفتاد", "هشتاد", "نود")
HUNDREDS = ("", "صد", "دویست", "سیصد", "چهارصد", "پانصد", "ششصد", "هفتصد", "هشتصد", "نهصد")
SCALES = ("", "هزار", "میلیون", "میلیارد")
LIMIT = 1000 ** len(SCALES)
AND = " و "


def persian_digits(value: int | str) -> str:
    """`value` with Persian digits (۰–۹), as the normalized corpus writes every number."""
    return convert_digits(str(value), "persian")


def _below_thousand(n: int) -> str:
    parts = [HUNDREDS[n // 100]]
    rest = n % 100
    if 10 <= rest < 20:
        parts.append(TEENS[rest - 10])
    else:
        parts += [TENS[rest // 10], ONES[rest % 10]]
    return AND.join(part for part in parts if part)


def number_to_words(n: int) -> str:
    """Cardinal `n` (0 <= n < 10**12) in Persian words."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"number_to_words supports 0 <= n < {LIMIT}, got {n}")
    if n == 0:
        return "صفر"
    groups: list[str] = []
    for scale in range(len(SCALES)):
        value = n // 1000**scale % 1000
        if not value:
            continue
        if scale == 0:
            groups.append(_below_thousand(value))
        elif scale == 1 and value == 1:
            groups.append(SCALES[1])
        else:
            groups.append(f"{_below_thousand(value)} {SCALES[scale]}")
    return AND.join(reversed(groups))


_WORD_VALUES: dict[str, int] = {
    **{word: value for value, word in enumerate(ONES) if word},
    **{word: 10 + value for value, word in enumerate(TEENS)},
    **{word: 10 * value for value, word in enumerate(TENS) if word},
    **{word: 100 * value for value, word in enumerate(HUNDREDS) if word},
    "صفر": 0,
    "شیش": 6,
    "هیجده": 18,
    "یکصد": 100,
    "پونصد": 500,
}
_SCALE_VALUES = {word: 1000**power for power, word in enumerate(SCALES) if word}
_DIGITS = re.compile(r"\d+")
_TOKEN = re.compile(r"\d+|[^\W\d_]+", re.UNICODE)


def _place(value: int) -> int:
    """The place a number word fills: 1 (ones, teens), 10 (tens) or 100 (hundreds)."""
    return 100 if value >= 100 else 10 if value >= 20 else 1


def numbers_in(text: str) -> list[tuple[int, int]]:
    """The cardinal numbers in `text`, in digits (any script) or in words («بیست و سه»,
    «هزار و دویست»), as (value, position of their first character), in order. «و» continues
    a number only where the next word fills a smaller place («بیست و سه»), so «هفت و پنج»
    is two numbers."""
    latin = convert_digits(text, "latin")
    found: list[tuple[int, int]] = []
    total = group = last = 0  # last: the place of the previous word, 0 outside a number
    start = -1
    pending_and = False

    def close() -> None:
        nonlocal total, group, last, start
        if start >= 0:
            found.append((total + group, start))
        total = group = last = 0
        start = -1

    for match in _TOKEN.finditer(latin):
        word = match.group()
        if _DIGITS.fullmatch(word):
            close()
            found.append((int(word), match.start()))
            pending_and = False
            continue
        if word == "و" and start >= 0:
            pending_and = True
            continue
        value, scale = _WORD_VALUES.get(word), _SCALE_VALUES.get(word)
        continues = start >= 0 and pending_and
        if value is not None:
            if not (continues and (last > _place(value) or last == 1000)):
                close()
                start = match.start()
            group += value
            last = _place(value)
        elif scale is not None:
            if start < 0:
                start, group = match.start(), 1
            total += max(group, 1) * scale
            group, last = 0, 1000
        else:
            close()
        pending_and = False
    close()
    return found
