"""A bot's own knowledge in the studio: documents previewed as passages, refused in Persian
with their line, kept with the dataset, searched as the chat would search them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from persian_chat.studio.datasets import add_dataset, knowledge_documents, prepare_config
from persian_chat.studio.knowledge import KnowledgeSearch, inspect_knowledge
from persian_chat.studio.settings import StudioSettings
from persian_chat.studio.store import Store
from persian_chat.studio.uploads import UploadError

from .faq import faq_csv

MAPPING = {"format": "qa", "question": "پرسش", "answer": "پاسخ"}
GUIDE = """# ساعت کاری فروشگاه

فروشگاه از شنبه تا پنجشنبه از ساعت ۹ صبح تا ۶ عصر باز است و جمعه‌ها تعطیل است.

# هزینهٔ ارسال

ارسال سفارش‌های بالای دو میلیون تومان رایگان است و برای بقیه هشتاد هزار تومان هزینه دارد.
"""
LIMIT = 1024 * 1024


def test_a_document_is_previewed_as_the_passages_it_becomes() -> None:
    preview = inspect_knowledge("راهنما.md", GUIDE.encode(), LIMIT)
    assert preview.count == 2
    assert [p.title for p in preview.passages] == ["ساعت کاری فروشگاه", "هزینه ارسال"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.txt", "سلام\n".encode() + "خداحافظ".encode("cp1256"), "UTF-8 نیست"),
        ("a.jsonl", b'{"title": "x", "text": "y"}\n{"title": "x"}\n', "«title» و «text»"),
        ("a.md", b"# title only\n", "متنی برای ساختن"),
        ("a.docx", b"PK", "TXT، MD یا JSONL"),
        ("a.txt", b"x" * (LIMIT + 1), "بیشترین حجم"),
    ],
)
def test_bad_documents_get_a_persian_message_with_the_line(
    name: str, data: bytes, message: str
) -> None:
    with pytest.raises(UploadError) as caught:
        inspect_knowledge(name, data, LIMIT)
    assert message in caught.value.message
    if name in ("a.txt", "a.jsonl") and len(data) <= LIMIT:  # the line of the fault
        assert caught.value.message.endswith("(خط ۲)")


@pytest.fixture
def settings(tmp_path: Path, repo: Path) -> StudioSettings:
    return StudioSettings(home=tmp_path / "studio", repo=repo, poll_seconds=0.2)


def test_a_dataset_keeps_its_documents_and_is_searched_as_the_chat_would(
    settings: StudioSettings,
) -> None:
    store = Store(settings.url)
    try:
        dataset = add_dataset(
            settings, store, "faq.csv", faq_csv(), MAPPING, [("راهنما.md", GUIDE.encode())]
        )
        without = add_dataset(settings, store, "faq.csv", faq_csv(), MAPPING)
        assert without["id"] != dataset["id"]  # the documents are part of what a dataset is
        directory = Path(dataset["directory"])
        assert [p.name for p in knowledge_documents(directory)] == ["راهنما.md"]
        assert dataset["counts"]["knowledge"] >= 40 + 2  # the FAQ's rows and the guide
        search = KnowledgeSearch()
        hits = search.search(directory, "جمعه‌ها فروشگاه بازه؟")
        assert hits and hits[0][0].title == "ساعت کاری فروشگاه"
        hits = search.search(directory, "گارانتی کتری برقی چقدره؟")
        assert hits and "کتری برقی" in hits[0][0].title  # the FAQ's own rows are passages too
        assert search.search(directory, "قیمت بلیت هواپیما به پاریس") == []
        assert search.search(directory, "هزینهٔ ارسال چقدر است؟") != []
        assert search.search(Path(without["directory"]), "هزینهٔ ارسال چقدر است؟") == []
        # a job prepares the same documents again: the version serves them
        config = prepare_config(
            settings,
            next(directory.glob("source.*")),
            MAPPING,
            directory / "again",
            knowledge_files=knowledge_documents(directory),
        )
        files = tomllib.loads(config)["knowledge_files"]
        assert [Path(f).name for f in files] == ["راهنما.md"]
    finally:
        store.close()


def test_a_bad_document_names_its_file_and_keeps_nothing(settings: StudioSettings) -> None:
    store = Store(settings.url)
    try:
        with pytest.raises(UploadError) as caught:
            add_dataset(settings, store, "faq.csv", faq_csv(), MAPPING, [("کهنه.txt", b"\xff")])
        assert "کهنه.txt" in caught.value.message and "/" not in caught.value.message
        assert store.datasets() == []
        assert not [p for p in (settings.home / "datasets").iterdir() if p.name != ".lock"]
    finally:
        store.close()
