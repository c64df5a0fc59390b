"""Questions about the hand-written knowledge passages (datasets/sources/reading/), each
answered by one passage: they become reading rows, so the model learns to read prose passages
(not only the one-sentence table passages) and to answer with the short fact it finds.

The evaluation's own grounded questions (datasets/sources/eval/) ask about other passages of
the same files: no row here is about a passage the evaluation asks about (check.py enforces
it), and prepare hides those passages from training rows altogether. Every question about one
passage shares its split group (the passage id), so test.jsonl reads passages no training row
read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from persian_chat.errors import InputError
from persian_chat.training.data.records import Example, single_turn

READING_DIR = "reading"  # beside the tables folder: datasets/sources/reading
DOMAIN = "reading_passages"  # the rows' own evaluation category
KEYS = ("passage_id", "question", "answer", "reply")


def reading_files(tables: Path) -> list[Path]:
    return sorted((tables.parent / READING_DIR).glob("*.jsonl"))


def passages_examples(tables: Path) -> Iterator[Example]:
    """One single-turn example per question; its group is the passage that answers it."""
    for path in reading_files(tables):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(path), number, f"malformed JSON: {exc.msg}") from None
            if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in KEYS):
                raise InputError(str(path), number, f"a question needs the text fields {KEYS}")
            yield Example(
                single_turn(row["question"], row["reply"]),
                origin=f"{path.name}:{number}",
                group=row["passage_id"],
                domain=DOMAIN,
                expected=row["answer"],
            )
