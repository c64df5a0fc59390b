"""The task generators by name (`--source type=task,name=facts`), and the inputs each one
reads, so the manifest can record their checksums."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path

from persian_chat.training.data.records import Example
from persian_chat.training.data.sources import TaskName
from persian_chat.training.data.task_arithmetic import arithmetic_examples
from persian_chat.training.data.task_dates import dates_examples
from persian_chat.training.data.task_facts import COUNTRIES, PROVINCES, facts_examples
from persian_chat.training.data.task_numbers import numbers_examples
from persian_chat.training.data.task_passages import passages_examples, reading_files
from persian_chat.training.data.task_sentiment import REVIEWS, sentiment_examples
from persian_chat.training.data.task_translation import TRANSLATIONS, translation_examples

GENERATORS: dict[TaskName, Callable[[Path], Iterator[Example]]] = {
    "facts": facts_examples,
    "passages": passages_examples,
    "translation": translation_examples,
    "sentiment": sentiment_examples,
    "dates_numbers": lambda _tables: chain(dates_examples(), numbers_examples()),
    "arithmetic": lambda _tables: arithmetic_examples(),
}
TABLES: dict[TaskName, tuple[str, ...]] = {
    "facts": (COUNTRIES, PROVINCES),
    "passages": (),  # reading_files(): every file of datasets/sources/reading
    "translation": (TRANSLATIONS,),
    "sentiment": (REVIEWS,),
    "dates_numbers": (),
    "arithmetic": (),
}


def task_examples(name: TaskName, tables: Path) -> Iterator[Example]:
    return GENERATORS[name](tables)


def task_tables(name: TaskName, tables: Path) -> list[Path]:
    """The table files task `name` reads (none for the purely computed tasks)."""
    if name == "passages":
        return reading_files(tables)
    return [tables / file for file in TABLES[name]]
