"""The training mixture: how many times each part of train.jsonl is seen.

A 75-minute run on 2 cores computes about as many tokens as train.jsonl holds, so what the
model learns is decided by the mixture, not the file: small skill sets (a one-word sentiment
answer, a short translation) are worth several passes, long general chat fewer. A factor
names a row's source ("task:sentiment", "hafez", "reading") or its domain
("reading_passages", "translation"); a domain factor wins over its source's. A factor of 2.5
repeats every row twice and a seeded half of them a third time; 0.5 keeps a seeded half.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from persian_chat.errors import UserError

Row = TypeVar("Row")


@dataclass(frozen=True)
class Tag:
    """Where a training row comes from (prepare writes both on every row)."""

    source: str
    domain: str


def read_tags(path: Path) -> list[Tag]:
    """The source and domain of each record of a chat JSONL file, in file order (rows from
    other tools may carry neither: they are tagged as empty strings)."""
    tags = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                tags.append(Tag(str(record.get("source", "")), str(record.get("domain", ""))))
    return tags


def parse_factor(option: str) -> tuple[str, float]:
    """`NAME=FACTOR` from the command line."""
    name, sep, value = option.partition("=")
    try:
        factor = float(value)
    except ValueError:
        factor = -1.0
    if not sep or not name or factor < 0:
        raise UserError(f"--repeat {option!r}: expected NAME=FACTOR with FACTOR >= 0")
    return name, factor


def factor_of(tag: Tag, factors: dict[str, float]) -> float:
    """The row's factor: its domain's, else its source's, else 1."""
    if tag.domain in factors:
        return factors[tag.domain]
    return factors.get(tag.source, 1.0)


def mix_rows(
    rows: Sequence[Row], tags: Sequence[Tag], factors: dict[str, float], seed: int
) -> tuple[list[Row], list[Tag]]:
    """Every row repeated by its factor (the fractional part: a seeded subset of the rows
    sharing that factor's name); order is the file's, the Trainer shuffles."""
    if len(rows) != len(tags):
        raise ValueError(f"{len(rows)} rows but {len(tags)} tags")
    known = {t.source for t in tags} | {t.domain for t in tags}
    unknown = sorted(set(factors) - known)
    if unknown:
        raise UserError(
            f"--repeat names no source or domain of train.jsonl: {', '.join(unknown)} "
            f"(sources: {', '.join(sorted({t.source for t in tags}))})"
        )
    rng = random.Random(seed)
    mixed: list[Row] = []
    mixed_tags: list[Tag] = []
    for row, tag in zip(rows, tags, strict=True):
        factor = factor_of(tag, factors)
        copies = int(factor) + (rng.random() < factor - int(factor))
        mixed.extend([row] * copies)
        mixed_tags.extend([tag] * copies)
    if not mixed:
        raise UserError("--repeat left no training rows")
    return mixed, mixed_tags


def mix_table(
    tags: Sequence[Tag], tokens: Sequence[int], targets: Sequence[int]
) -> dict[str, dict[str, int]]:
    """Rows, tokens computed and tokens learned from (assistant tokens) per source of the
    mixed training set; reading rows per domain, since they are one source of many skills."""
    table: dict[str, Counter[str]] = {}
    for tag, computed, learned in zip(tags, tokens, targets, strict=True):
        key = f"reading:{tag.domain}" if tag.source == "reading" else tag.source
        counts = table.setdefault(key, Counter())
        counts["rows"] += 1
        counts["tokens"] += computed
        counts["target_tokens"] += learned
    return {key: dict(table[key]) for key in sorted(table)}
