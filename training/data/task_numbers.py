"""Numbers in words and in Persian digits, both ways («۱۲۳۴» <-> «هزار و دویست و سی و
چهار»), for numbers of every size from one digit to eight.

Each number is its own split group; numbers are drawn by hash, a quarter from each size band.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from persian_chat.persian_numbers import number_to_words, persian_digits
from persian_chat.training.data.phrasing import phrased_turn
from persian_chat.training.data.records import Example

DOMAIN = "dates_numbers"
NUMBER_COUNT = 160
BANDS = ((1, 100), (100, 1000), (1000, 100_000), (100_000, 100_000_000))

TO_WORDS_PROMPTS = (
    "عدد {digits} را به حروف بنویس.",
    "{digits} را با حروف بنویس.",
    "{digits} به حروف چه می‌شود؟",
    "این عدد را به حروف بنویس: {digits}",
)
TO_WORDS_ANSWERS = (
    "{words}",
    "{digits} به حروف می‌شود: {words}.",
    "به حروف: {words}.",
)
TO_DIGITS_PROMPTS = (
    "«{words}» را با رقم بنویس.",
    "عدد «{words}» را به رقم بنویس.",
    "«{words}» با رقم چه می‌شود؟",
    "این عدد را با رقم بنویس: {words}",
)
TO_DIGITS_ANSWERS = (
    "به رقم: {digits}",
    "با رقم می‌شود {digits}.",
    "{digits}.",
)


def sample_numbers(count: int = NUMBER_COUNT) -> list[int]:
    """`count` distinct numbers, the same share from each of BANDS; the same ones every run."""
    chosen: set[int] = set()
    for band, (low, high) in enumerate(BANDS):
        quota, index = len(chosen) + count // len(BANDS), 0
        while len(chosen) < quota:
            digest = hashlib.sha256(f"number:{band}:{index}".encode()).digest()
            chosen.add(low + int.from_bytes(digest[:8], "big") % (high - low))
            index += 1
    return sorted(chosen)


def number_examples(n: int) -> Iterator[Example]:
    key = f"number:{n}"
    fields = {"digits": persian_digits(n), "words": number_to_words(n)}
    yield Example(
        phrased_turn(TO_WORDS_PROMPTS, TO_WORDS_ANSWERS, fields, key + ":wq", key + ":wa"),
        f"{key}:to_words",
        key,
        DOMAIN,
        fields["words"],
    )
    yield Example(
        phrased_turn(TO_DIGITS_PROMPTS, TO_DIGITS_ANSWERS, fields, key + ":dq", key + ":da"),
        f"{key}:to_digits",
        key,
        DOMAIN,
        fields["digits"],
    )


def numbers_examples() -> Iterator[Example]:
    for n in sample_numbers():
        yield from number_examples(n)
