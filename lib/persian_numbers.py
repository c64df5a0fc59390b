"""Numbers written the Persian way: Persian digits, and cardinal numbers in words.

Words follow the standard written form: parts joined by «و» (۱۲۳۴ → «هزار و دویست و سی و
چهار»), a bare «هزار» for one thousand, «یک میلیون» for one million, «هجده» for 18.
"""

from __future__ import annotations

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
