"""The corpus mixture in tokens: how much each source and domain contributes, and a cap on a
source's share (Hafez would otherwise be most of what the model reads).

A capped source loses its longest conversations first: they cost the most tokens per example,
and they are the ones training truncates at --max-length anyway. Ties go by origin, so the
choice is the same on every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MixRow:
    """One kept conversation as the mixture sees it."""

    source: str
    domain: str
    tokens: int
    origin: str


def _drop_for(rows: Sequence[MixRow], source: str, cap: float, dropped: set[int]) -> list[int]:
    """More rows of `source` to drop so that its share of the remaining tokens is <= cap."""
    live = [i for i in range(len(rows)) if i not in dropped]
    mine = [i for i in live if rows[i].source == source]
    own = sum(rows[i].tokens for i in mine)
    others = sum(rows[i].tokens for i in live) - own
    budget = math.floor(cap / (1.0 - cap) * others) if cap < 1.0 else own
    extra: list[int] = []
    for i in sorted(mine, key=lambda i: (-rows[i].tokens, rows[i].origin)):
        if own <= budget:
            break
        extra.append(i)
        own -= rows[i].tokens
    return extra


def over_share(rows: Sequence[MixRow], caps: Mapping[str, float]) -> set[int]:
    """Indices of the rows to drop so that every capped source's share of tokens is at most
    its cap (repeated until stable: dropping one source's rows raises the others' shares)."""
    dropped: set[int] = set()
    changed = True
    while changed:
        changed = False
        for source, cap in sorted(caps.items()):
            extra = _drop_for(rows, source, cap, dropped)
            if extra:
                dropped.update(extra)
                changed = True
    return dropped


def totals(rows: Iterable[MixRow], key: Callable[[MixRow], str]) -> dict[str, dict[str, int]]:
    """Rows and tokens per `key` (source or domain), sorted by key."""
    result: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = result.setdefault(key(row), {"rows": 0, "tokens": 0})
        entry["rows"] += 1
        entry["tokens"] += row.tokens
    return dict(sorted(result.items()))


def shares(rows: Sequence[MixRow]) -> dict[str, float]:
    """Each source's share of the tokens, rounded for the manifest."""
    total = sum(row.tokens for row in rows) or 1
    by_source = totals(rows, lambda row: row.source)
    return {source: round(entry["tokens"] / total, 4) for source, entry in by_source.items()}
