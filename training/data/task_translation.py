"""Persian<->English translation of short everyday sentences, from a project-written table.

Each sentence pair gives one conversation per direction, both in the pair's split group, so
a sentence translated in the test set was never seen in training in either direction. The
reference translation is the assistant's answer (scored with chrF, not exact match).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from persian_chat.training.data.phrasing import pick
from persian_chat.training.data.records import Example, single_turn
from persian_chat.training.data.tables import read_table, unique

TRANSLATIONS = "translations.tsv"
DOMAIN = "translation"

# Long enough that a conversation stays mostly Persian script (the cleaning rule that drops
# non-Persian rows) even when the Persian sentence is much shorter than the English one.
TO_ENGLISH_PROMPTS = (
    "این جمله را از فارسی به انگلیسی ترجمه کن:\n«{text}»",
    "ترجمهٔ انگلیسی این جملهٔ فارسی را بنویس:\n«{text}»",
    "این جملهٔ فارسی به زبان انگلیسی چه می‌شود؟\n«{text}»",
    "لطفاً این جمله را به زبان انگلیسی برگردان: «{text}»",
    "معادل انگلیسی این جملهٔ فارسی را بگو: «{text}»",
)
TO_PERSIAN_PROMPTS = (
    "این جمله را از انگلیسی به فارسی ترجمه کن:\n«{text}»",
    "ترجمهٔ فارسی این جملهٔ انگلیسی را بنویس:\n«{text}»",
    "این جملهٔ انگلیسی به زبان فارسی چه می‌شود؟\n«{text}»",
    "لطفاً این جمله را به زبان فارسی برگردان: «{text}»",
    "معادل فارسی این جملهٔ انگلیسی را بگو: «{text}»",
)


def translation_examples(tables: Path) -> Iterator[Example]:
    pairs = read_table(tables / TRANSLATIONS, ("english", "persian"))
    unique(pairs, "english")
    unique(pairs, "persian")
    for row in pairs:
        english, persian = row.cells["english"], row.cells["persian"]
        group = f"translation:{english}"
        to_english = pick(TO_ENGLISH_PROMPTS, group + ":en").format(text=persian)
        yield Example(single_turn(to_english, english), f"{row.origin}:to_english", group, DOMAIN)
        to_persian = pick(TO_PERSIAN_PROMPTS, group + ":fa").format(text=english)
        yield Example(single_turn(to_persian, persian), f"{row.origin}:to_persian", group, DOMAIN)
