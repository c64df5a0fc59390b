"""Sentiment of short reviews (products, restaurants, films, services), from a
project-written table labelled مثبت / منفی / خنثی.

The prompts are the ones file and Hugging Face sentiment sources use (SENTIMENT_PROMPTS), so
the model learns one task, not two; each review is its own split group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from persian_chat.errors import InputError
from persian_chat.training.data.phrasing import pick
from persian_chat.training.data.records import Example, single_turn
from persian_chat.training.data.sources import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENT_PROMPTS
from persian_chat.training.data.tables import read_table, unique

REVIEWS = "reviews.tsv"
DOMAIN = "sentiment"
LABELS = (POSITIVE, NEGATIVE, NEUTRAL)


def sentiment_examples(tables: Path) -> Iterator[Example]:
    reviews = read_table(tables / REVIEWS, ("text", "label"))
    unique(reviews, "text")
    for row in reviews:
        text, label = row.cells["text"], row.cells["label"]
        if label not in LABELS:
            raise InputError(
                str(row.path), row.line, f"label {label!r} is not one of {', '.join(LABELS)}"
            )
        prompt = pick(SENTIMENT_PROMPTS, text).format(text=text)
        yield Example(single_turn(prompt, label), row.origin, f"review:{text}", DOMAIN, label)
