"""Deterministic train/test split by a hash of each example's group.

Hashing (not shuffling) keeps a conversation on the same side whatever else the corpus
contains, so adding a source never moves existing examples between train and test.
"""

from __future__ import annotations

import hashlib


def is_test(group: str, test_ratio: float, seed: int) -> bool:
    """True when `group` falls in the test share; stable for a given seed."""
    if not 0.0 <= test_ratio < 1.0:
        raise ValueError(f"test_ratio must be in [0, 1), got {test_ratio}")
    digest = hashlib.sha256(f"{seed}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_ratio


class GroupUnion:
    """Split groups joined by shared opening questions.

    A generated row has its entity as group («country:ترکیه»), a hand-written one its opening
    question; when an entity's question also opens a hand-written conversation («پایتخت ترکیه
    کجاست؟»), both must land on the same side. A joined set is split by its first-seen group,
    so rows read earlier keep their side when a later source joins them.
    """

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._seen: dict[str, int] = {}

    def _find(self, key: str) -> str:
        if key not in self._parent:
            self._parent[key] = key
            self._seen[key] = len(self._seen)
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:  # path compression
            self._parent[key], key = root, self._parent[key]
        return root

    def link(self, group: str, question: str) -> None:
        """Record that a row of `group` opens with `question`."""
        roots = (self._find(group), self._find(question))
        first, second = sorted(roots, key=self._seen.__getitem__)
        if first != second:
            self._parent[second] = first

    def root(self, group: str) -> str:
        return self._find(group)
