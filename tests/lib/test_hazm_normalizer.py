"""hazm's Normalizer loaded without hazm's other tools gives hazm's output, unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from persian_chat.hazm_normalizer import StemmerI, TokenizerI, normalizer_class
from persian_chat.normalize import compact_lexicon

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "correct_spacing": True,
    "remove_diacritics": True,
    "remove_specials_chars": True,
    "decrease_repeated_chars": True,
    "persian_style": False,
    "persian_numbers": False,
    "unicodes_replacement": True,
    "seperate_mi": True,
}


def noisy(text: str) -> str:
    """The text as people type it: Arabic letters, no ZWNJ, diacritics, stretched letters,
    a detached «می»."""
    text = text.replace("ی", "ي").replace("ک", "ك").replace("\u200c", " ")
    text = text.replace("ا", "اَ", 2).replace("خوب", "خوووب").replace("می ", "می")
    return text + " !!!؟؟ ﷼"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    messages = []
    for name in ("train.jsonl", "test.jsonl"):
        with (ROOT / "datasets" / name).open(encoding="utf-8") as rows:
            for line in rows:
                messages += [m["content"] for m in json.loads(line)["messages"]]
    return messages + [noisy(t) for t in messages[::3]]


def test_the_same_output_as_hazm_on_the_dataset_and_noisy_text(texts: list[str]) -> None:
    import hazm

    light, real = normalizer_class()(**SETTINGS), hazm.Normalizer(**SETTINGS)
    assert type(light) is not hazm.Normalizer  # really the separately loaded class
    compact_lexicon(light)  # as PersianNormalizer uses it
    differences = [t for t in texts if light.normalize(t) != real.normalize(t)]
    assert len(texts) > 30_000 and differences == []


def test_the_stand_ins_leave_no_trace() -> None:
    normalizer_class()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("hazm", "nltk"):  # only the real packages, if any
            assert getattr(module, "__file__", None) or getattr(module, "__spec__", None)
    import nltk.stem.api
    import nltk.tokenize.api

    assert nltk.tokenize.api.TokenizerI is not TokenizerI
    assert nltk.stem.api.StemmerI is not StemmerI
