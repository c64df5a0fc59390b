from __future__ import annotations

import pytest

from persian_chat.normalize import PersianNormalizer, convert_digits, strip_invisible
from persian_chat.settings import NormalizerSettings

ZWNJ = "\u200c"

# Real Persian inputs as people type them, and what training and serving must both see.
CASES = [
    ("علي به كتابخانه رفت", "علی به کتابخانه رفت"),  # Arabic yeh/kaf -> Persian
    ("سال ١٤٠٣ و 2024 و ۱۴۰۳", "سال ۱۴۰۳ و ۲۰۲۴ و ۱۴۰۳"),  # one digit script
    ("می روم", f"می{ZWNJ}روم"),  # «می» prefix joined with ZWNJ
    ("نمی دانم", f"نمی{ZWNJ}دانم"),
    ("کتاب ها", f"کتاب{ZWNJ}ها"),  # plural suffix
    ("خانه ای", f"خانه{ZWNJ}ای"),  # indefinite suffix
    ("کِتابِ خوب", "کتاب خوب"),  # diacritics removed
    ("سلاممممم", "سلام"),  # repeated letters
    ("\u200fسلام\u200e دنیا\u202b", "سلام دنیا"),  # stray RTL/LTR marks
    (f"سلام{ZWNJ} {ZWNJ}دنیا", "سلام دنیا"),  # ZWNJ next to a space
    (f"هم{ZWNJ}{ZWNJ}اکنون", f"هم{ZWNJ}اکنون"),  # doubled ZWNJ
    ("بسیار\u200b خوب\u200d", "بسیار خوب"),  # zero-width space / joiner
    ("متن\x07 با کنترل", "متن با کنترل"),  # control character
    ("ﻻ", "لا"),  # presentation-form ligature
    ("سلام   دنیا\n\n\n\nخوبی؟", "سلام دنیا\n\nخوبی؟"),  # spaces, blank lines
    ("دو\tکلمه", "دو کلمه"),
    ("Where is the bank?", "Where is the bank?"),  # hazm would write «bank ?»
    ("ترجمه کن: «Is it far?»", "ترجمه کن: «Is it far?»"),
    ("  ", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_normalizes_real_persian_cases(
    normalizer: PersianNormalizer, raw: str, expected: str
) -> None:
    assert normalizer.normalize(raw) == expected


@pytest.mark.parametrize(("raw", "_"), CASES)
def test_normalization_is_idempotent(normalizer: PersianNormalizer, raw: str, _: str) -> None:
    once = normalizer.normalize(raw)
    assert normalizer.normalize(once) == once


def test_multiline_text_keeps_its_lines(normalizer: PersianNormalizer) -> None:
    poem = "الا یا ایها الساقی ادر کاسا و ناولها\nکه عشق آسان نمود اول ولی افتاد مشکل ها"
    assert normalizer.normalize(poem).split("\n") == [
        "الا یا ایها الساقی ادر کاسا و ناولها",
        f"که عشق آسان نمود اول ولی افتاد مشکل{ZWNJ}ها",
    ]


def test_latin_digit_setting() -> None:
    latin = PersianNormalizer(NormalizerSettings(digits="latin"))
    assert latin.normalize("سال ١٤٠٣ و ۱۴۰۳") == "سال 1403 و 1403"


def test_convert_digits_modes() -> None:
    assert convert_digits("12 ١٢ ۱۲", "persian") == "۱۲ ۱۲ ۱۲"
    assert convert_digits("12 ١٢ ۱۲", "latin") == "12 12 12"
    assert convert_digits("12 ١٢", "keep") == "12 ١٢"


def test_strip_invisible_keeps_zwnj_and_newlines() -> None:
    text = f"می{ZWNJ}روم\r\nخانه\u200f"
    assert strip_invisible(text) == f"می{ZWNJ}روم\nخانه"


def test_settings_are_frozen_and_strict() -> None:
    with pytest.raises(ValueError):
        NormalizerSettings(digits="roman")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        NormalizerSettings(unknown=True)  # type: ignore[call-arg]
