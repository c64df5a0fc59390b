"""String metrics for chat answers: pure functions on text, no model.

They are the measures issue 13 sets for the chat evaluation (training/chat_eval.py):
- loop: some word 4-gram occurs 3 or more times in the answer (the failure users saw most);
- Persian share: Persian/Arabic-script letters over all letters (digits, punctuation and
  spaces are not letters), None for an answer without letters;
- words: the answer's length in words;
- U+FFFD: the answer shows a replacement character (a broken byte-fallback sequence);
- exact match: the expected value, normalized like the training data, appears as whole
  consecutive words in the normalized answer («تهران» hits «پایتخت ایران تهران است.», not
  «تهرانی»); normalizing both sides makes ی/ي, ک/ك, digit scripts and spacing agree;
- sentiment: the label word the answer gives first (مثبت / منفی / خنثی, or their English
  names), compared with the expected label;
- chrF: sacrebleu's CHRF (chrF2, character 6-grams), corpus-level per category.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from sacrebleu.metrics.chrf import CHRF

Normalize = Callable[[str], str]

LOOP_NGRAM = 4
LOOP_REPEATS = 3
REPLACEMENT_CHAR = "\ufffd"
ZWNJ = "\u200c"

# Letters, digits and the marks Persian words carry (hamza above, tanwin, superscript alef)
# joined by ZWNJ make one word; everything else separates words.
_WORD = re.compile(f"[\\w\u064b-\u065f\u0670{ZWNJ}]+")
# Arabic, Arabic Supplement, Arabic Extended-A and the presentation forms.
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")

SENTIMENT_LABELS: dict[str, str] = {
    "مثبت": "positive",
    "positive": "positive",
    "منفی": "negative",
    "negative": "negative",
    "خنثی": "neutral",
    "بی‌طرف": "neutral",
    "بیطرف": "neutral",
    "neutral": "neutral",
}


def words(text: str) -> list[str]:
    """Words of `text` without punctuation (ZWNJ inside a word kept, at its edges dropped)."""
    found = (w.strip(ZWNJ + "_") for w in _WORD.findall(text))
    return [w for w in found if w]


def has_loop(text: str, n: int = LOOP_NGRAM, repeats: int = LOOP_REPEATS) -> bool:
    """True when some word n-gram occurs `repeats` or more times (overlaps count)."""
    tokens = words(text)
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return bool(grams) and max(grams.values()) >= repeats


def persian_share(text: str) -> float | None:
    """Share of letters in Persian/Arabic script; None when `text` has no letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    return sum(1 for c in letters if _ARABIC_SCRIPT.match(c)) / len(letters)


def has_replacement_char(text: str) -> bool:
    return REPLACEMENT_CHAR in text


def _match_words(text: str, normalize: Normalize) -> list[str]:
    return [w.casefold() for w in words(normalize(text))]


def exact_match(answer: str, expected: str | Sequence[str], normalize: Normalize) -> bool:
    """The expected value (any of several) occurs as whole consecutive words in the answer,
    both normalized with `normalize` and case-folded."""
    options = [expected] if isinstance(expected, str) else list(expected)
    got = _match_words(answer, normalize)
    for option in options:
        want = _match_words(option, normalize)
        if want and any(got[i : i + len(want)] == want for i in range(len(got) - len(want) + 1)):
            return True
    return False


def sentiment_label(text: str, normalize: Normalize) -> str | None:
    """The first sentiment label word in `text` ("positive", "negative", "neutral"), or None.
    Labels are whole words, so «منفی‌بافی» is not «منفی»."""
    labels = {k.replace(ZWNJ, ""): v for k, v in SENTIMENT_LABELS.items()}
    for word in _match_words(text, normalize):
        label = labels.get(word.replace(ZWNJ, ""))
        if label is not None:
            return label
    return None


def sentiment_correct(answer: str, expected: str, normalize: Normalize) -> bool:
    """The answer's first label equals the expected one (which must name a label)."""
    want = sentiment_label(expected, normalize)
    if want is None:
        raise ValueError(f"expected sentiment {expected!r} is not one of the labels")
    return sentiment_label(answer, normalize) == want


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level chrF (0-100) of answers against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError("one reference per hypothesis")
    if not hypotheses:
        raise ValueError("chrF of no answers")
    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF of one answer, for ranking the worst examples."""
    return float(CHRF().sentence_score(hypothesis, [reference]).score)
