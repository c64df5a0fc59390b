"""A bot's own knowledge in the studio: documents checked and previewed as the passages they
become, and a search over a dataset's knowledge base, as the chat would search it.

Documents are split by prepare's own code (training/data/knowledge_files.py), so the preview
shows exactly the passages the version will serve. The search indexes the dataset's prepared
passages in memory (SQLite FTS5, as the server does); a few recent ones stay indexed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from persian_chat.errors import InputError
from persian_chat.knowledge import Passage
from persian_chat.normalize import PersianNormalizer
from persian_chat.retrieval import DEFAULT_MIN_COVERAGE, KnowledgeBase, load_passages
from persian_chat.settings import NormalizerSettings
from persian_chat.studio.uploads import UploadError, megabytes
from persian_chat.training.data.knowledge_files import SUFFIXES, document_passages

PREVIEW_PASSAGES = 5
KNOWLEDGE_FILE = Path("prepared/knowledge/passages.jsonl")  # in a dataset's directory
INDEXES_KEPT = 4


@dataclass(frozen=True)
class KnowledgePreview:
    name: str
    passages: list[Passage]  # the first few
    count: int


def _problem(exc: InputError) -> UploadError:
    if exc.problem == "not UTF-8 text":
        return UploadError("کدگذاری پرونده UTF-8 نیست؛ آن را با کدگذاری UTF-8 ذخیره کنید", exc.line)
    if exc.problem.startswith("malformed JSON"):
        detail = exc.problem.removeprefix("malformed JSON: ")
        return UploadError(f"JSON نادرست است: {detail}", exc.line)
    if exc.problem.startswith("a passage needs"):
        return UploadError("هر سطر باید «title» و «text» متنی داشته باشد", exc.line)
    if exc.problem.startswith("no text"):
        return UploadError("پرونده متنی برای ساختن بخش‌های دانش ندارد", exc.line)
    return UploadError(f"پرونده خوانده نشد: {exc.problem}", exc.line)


def inspect_knowledge(name: str, data: bytes, max_bytes: int) -> KnowledgePreview:
    """Check a knowledge document and preview its passages; UploadError (Persian, with the
    line) for one that cannot be used. Normalized as prepare will normalize it."""
    suffix = Path(name).suffix.lower()
    if len(data) > max_bytes:
        raise UploadError(
            f"حجم پرونده {megabytes(len(data))} مگابایت است؛ بیشترین حجم "
            f"پذیرفتنی {megabytes(max_bytes)} مگابایت است"
        )
    if suffix not in SUFFIXES:
        raise UploadError(
            f"نوع پروندهٔ «{suffix or name}» برای دانش پشتیبانی نمی‌شود؛ TXT، MD یا JSONL بفرستید"
        )
    normalize = PersianNormalizer(NormalizerSettings()).normalize
    try:
        passages = document_passages(data, name, normalize)
    except InputError as exc:
        raise _problem(exc) from None
    return KnowledgePreview(name, passages[:PREVIEW_PASSAGES], len(passages))


class KnowledgeSearch:
    """Searches datasets' knowledge bases; the last INDEXES_KEPT stay indexed in memory."""

    def __init__(self) -> None:
        self._indexes: OrderedDict[Path, KnowledgeBase] = OrderedDict()
        self._lock = threading.Lock()

    def _index(self, dataset_dir: Path) -> KnowledgeBase | None:
        path = dataset_dir / KNOWLEDGE_FILE
        if not path.is_file():
            return None
        with self._lock:
            base = self._indexes.pop(path, None)
            if base is None:
                base = KnowledgeBase()
                base.add(load_passages(path))
            self._indexes[path] = base
            while len(self._indexes) > INDEXES_KEPT:
                self._indexes.popitem(last=False)[1].close()
            return base

    def search(self, dataset_dir: Path, query: str, k: int = 3) -> list[tuple[Passage, float]]:
        """The passages the chat would put in front of `query`, with their coverage."""
        base = self._index(dataset_dir)
        if base is None or not query.strip():
            return []
        hits = base.search(query, k, DEFAULT_MIN_COVERAGE)
        return [(hit.passage, hit.coverage) for hit in hits]
