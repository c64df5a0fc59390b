from __future__ import annotations

import pytest

from persian_chat.persian_numbers import number_to_words, numbers_in, persian_digits


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "صفر"),
        (7, "هفت"),
        (10, "ده"),
        (11, "یازده"),
        (18, "هجده"),
        (20, "بیست"),
        (21, "بیست و یک"),
        (99, "نود و نه"),
        (100, "صد"),
        (101, "صد و یک"),
        (115, "صد و پانزده"),
        (250, "دویست و پنجاه"),
        (999, "نهصد و نود و نه"),
        (1000, "هزار"),
        (1001, "هزار و یک"),
        (1234, "هزار و دویست و سی و چهار"),
        (2000, "دو هزار"),
        (12345, "دوازده هزار و سیصد و چهل و پنج"),
        (100000, "صد هزار"),
        (101000, "صد و یک هزار"),
        (1000000, "یک میلیون"),
        (1500000, "یک میلیون و پانصد هزار"),
        (2000000000, "دو میلیارد"),
        (3004005006, "سه میلیارد و چهار میلیون و پنج هزار و شش"),
    ],
)
def test_number_to_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


@pytest.mark.parametrize("n", [-1, 10**12])
def test_number_to_words_range(n: int) -> None:
    with pytest.raises(ValueError, match="supports"):
        number_to_words(n)


def test_persian_digits() -> None:
    assert persian_digits(1402) == "۱۴۰۲"
    assert persian_digits("0-9") == "۰-۹"


def test_numbers_in_reads_words_and_digits_back() -> None:
    for n in [*range(0, 1200), 2020, 12345, 305000, 1_000_000, 7_654_321]:
        assert [v for v, _ in numbers_in(f"عدد {number_to_words(n)} را بنویس")] == [n]
    assert numbers_in("هفت و پنج") == [(7, 0), (5, 6)]  # «و» between two whole numbers
    assert [v for v, _ in numbers_in("۶۷ و 60 و ٣")] == [67, 60, 3]
