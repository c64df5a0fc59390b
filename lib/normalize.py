"""Persian text normalization shared by data preparation and serving.

hazm does the linguistic part (Arabic ي/ك -> ی/ک, ZWNJ in affixes and «می», diacritics,
repeated letters); this module adds what hazm leaves out or gets wrong for chat text:
consistent digits, invisible bidi/control characters, and whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property
from typing import TYPE_CHECKING

from persian_chat.settings import DEFAULT_NORMALIZER, NormalizerSettings

if TYPE_CHECKING:
    from hazm import Normalizer as HazmNormalizer

ZWNJ = "\u200c"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
LATIN_DIGITS = "0123456789"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"

_TO_PERSIAN_DIGITS = str.maketrans(
    LATIN_DIGITS + ARABIC_INDIC_DIGITS + "%", PERSIAN_DIGITS * 2 + "٪"
)
_TO_LATIN_DIGITS = str.maketrans(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS + "٪", LATIN_DIGITS * 2 + "%")

# Bidi controls (LRM, RLM, embeddings, overrides, isolates, ALM) carry no meaning in stored
# text and confuse tokenizers; ZWNJ (U+200C) is meaningful in Persian and is kept.
_BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]")
# ZWJ, zero-width space and soft hyphen are typing noise in Persian text.
_ZERO_WIDTH_NOISE = re.compile("[\u200b\u200d\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZWNJ_RUNS = re.compile(f"{ZWNJ}{{2,}}")
# A ZWNJ next to a space or at a word edge is a typing error.
_ZWNJ_AT_EDGE = re.compile(f"(?:(?<=\\s){ZWNJ}|{ZWNJ}(?=\\s)|^{ZWNJ}|{ZWNJ}$)", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
# hazm's spacing splits a Latin «?» off its word («Where is it ?»); English text keeps it on.
_SPACED_LATIN_QUESTION = re.compile(r"(?<=[A-Za-z]) +\?")


def strip_invisible(text: str) -> str:
    """Remove bidi marks, control characters and zero-width noise; keep newlines, tabs, ZWNJ."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BIDI_MARKS.sub("", text)
    text = _ZERO_WIDTH_NOISE.sub("", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def convert_digits(text: str, digits: str) -> str:
    """Write every digit in one script, so «۱۲», «١٢» and «12» are the same text to the model."""
    if digits == "persian":
        return text.translate(_TO_PERSIAN_DIGITS)
    if digits == "latin":
        return text.translate(_TO_LATIN_DIGITS)
    return text


def tidy_whitespace(text: str) -> str:
    """Collapse runs of spaces, trim every line, keep at most one blank line, fix stray ZWNJ."""
    text = _ZWNJ_RUNS.sub(ZWNJ, text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _ZWNJ_AT_EDGE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


class WordCounts(dict[str, int]):
    """hazm's word lexicon as the normalizer reads it (`word in words`, `words[w][0]`), with
    only the frequency kept: its 193,350 (frequency, POS tags) pairs are ~25 MiB the
    normalizer never reads."""

    def __getitem__(self, word: str) -> tuple[int]:  # type: ignore[override]
        return (dict.__getitem__(self, word),)


def compact_lexicon(normalizer: HazmNormalizer) -> None:
    """Drop what hazm's normalizer keeps but does not use; its output stays the same
    (tests/lib/test_hazm_normalizer.py)."""
    words = getattr(normalizer, "words", None)
    if isinstance(words, dict) and not isinstance(words, WordCounts):
        compact = WordCounts({word: int(entry[0]) for word, entry in words.items()})
        normalizer.words = compact
        if hasattr(normalizer, "tokenizer"):  # its tokenize() does not read the lexicon
            normalizer.tokenizer.words = compact


class PersianNormalizer:
    """Normalizes Persian text with fixed settings; build one and reuse it (hazm loads lists)."""

    def __init__(self, settings: NormalizerSettings = DEFAULT_NORMALIZER) -> None:
        self.settings = settings

    @cached_property
    def _hazm(self) -> HazmNormalizer:
        try:
            from persian_chat.hazm_normalizer import normalizer_class

            hazm_normalizer = normalizer_class()  # hazm's class without its other tools
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "Persian normalization needs hazm: pip install 'persian-chat[data]'"
            ) from exc
        s = self.settings
        normalizer = hazm_normalizer(
            correct_spacing=s.correct_spacing,
            remove_diacritics=s.remove_diacritics,
            remove_specials_chars=s.remove_specials_chars,
            decrease_repeated_chars=s.decrease_repeated_chars,
            persian_style=False,
            persian_numbers=False,
            unicodes_replacement=s.unicodes_replacement,
            seperate_mi=s.seperate_mi,
        )
        compact_lexicon(normalizer)
        return normalizer

    def normalize(self, text: str) -> str:
        """Return the normalized form of `text` (idempotent: normalizing twice changes nothing)."""
        text = strip_invisible(text)
        text = unicodedata.normalize("NFC", text)
        text = tidy_whitespace(text)
        if not text:
            return text
        text = self._hazm.normalize(text)
        text = _SPACED_LATIN_QUESTION.sub("?", text)
        text = convert_digits(text, self.settings.digits)
        return tidy_whitespace(text)
