"""Shared fixtures: one hazm-backed normalizer per session (hazm loads word lists)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def normalizer():  # type: ignore[no-untyped-def]
    from persian_chat.normalize import PersianNormalizer

    return PersianNormalizer()
