"""Deterministic choice among phrasings: varied wording across rows, the same bytes every run.

A hash of a key (not a random generator) picks the option, so adding or reordering other rows
never changes the wording of a given row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from persian_chat.chat_format import Conversation
from persian_chat.training.data.records import single_turn


def _index(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big")


def bucket(key: str, buckets: int) -> int:
    """A number in [0, buckets) hashed from `key`: a fixed share of rows, the same every run."""
    return _index(key) % buckets


def pick(options: tuple[str, ...], key: str) -> str:
    """Choose one of `options` deterministically from `key`."""
    return options[_index(key) % len(options)]


def picks(options: tuple[str, ...], key: str, count: int) -> list[str]:
    """`count` different options (consecutive from a hashed start), for several rows that ask
    the same thing in different words."""
    if not 0 < count <= len(options):
        raise ValueError(f"cannot pick {count} of {len(options)} options")
    start = _index(key)
    return [options[(start + offset) % len(options)] for offset in range(count)]


def phrased_turn(
    prompts: tuple[str, ...],
    answers: tuple[str, ...],
    fields: Mapping[str, str],
    prompt_key: str,
    answer_key: str,
) -> Conversation:
    """A one-question conversation: a picked question and a picked answer, both filled in."""
    return single_turn(
        pick(prompts, prompt_key).format(**fields), pick(answers, answer_key).format(**fields)
    )
