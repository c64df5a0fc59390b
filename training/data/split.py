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
