"""Uploads are checked before anything is kept: size, encoding, format, columns."""

from __future__ import annotations

import json

import pytest

from persian_chat.studio.uploads import UploadError, check_mapping, inspect_upload

from .faq import faq_csv

LIMIT = 50 * 1024 * 1024


def test_csv_preview_guesses_the_columns() -> None:
    preview = inspect_upload("faq.csv", faq_csv(), LIMIT)
    assert preview.format == "qa"
    assert preview.columns == ["پرسش", "پاسخ"]
    assert preview.row_count == 40
    assert len(preview.rows) == 5 and preview.rows[0]["پرسش"].startswith("گارانتی کتری")
    assert preview.guess == {"question": "پرسش", "answer": "پاسخ"}
    assert check_mapping(preview, "پرسش", "پاسخ") == {
        "format": "qa",
        "question": "پرسش",
        "answer": "پاسخ",
    }


def test_english_column_names_are_guessed_in_any_order() -> None:
    data = "id,answer,question\n1,پاسخ یک,پرسش یک\n".encode()
    preview = inspect_upload("faq.csv", data, LIMIT)
    assert preview.guess == {"question": "question", "answer": "answer"}


def test_jsonl_chat_rows_and_bad_rows_are_reported_by_line() -> None:
    turns = [{"role": "user", "content": "سلام"}, {"role": "assistant", "content": "درود"}]
    good = json.dumps({"messages": turns}, ensure_ascii=False)
    data = f"{good}\n{{not json\n{good}\n".encode()
    preview = inspect_upload("chats.jsonl", data, LIMIT)
    assert preview.format == "chat" and preview.row_count == 2
    assert preview.bad_row_count == 1 and preview.bad_rows[0].startswith("۲:")
    assert check_mapping(preview, "", "") == {"format": "chat"}


@pytest.mark.parametrize(
    ("name", "data", "words", "line"),
    [
        (
            "faq.csv",
            "پرسش,پاسخ\nسلام,درود\n".encode() + "خوبم,".encode("cp1256") + b"\n",
            "UTF-8",
            3,
        ),
        ("faq.csv", "پرسش\nسلام\n".encode(), "ستون", 1),
        ("faq.csv", b"", "خالی", 1),
        ("faq.csv", b"\n\n  \n", "خالی", 1),
        ("faq.csv", "پرسش,پاسخ\n".encode(), "هیچ سطر", 2),
        ("faq.json", b'{"a": 1}', "آرایه", None),
        ("faq.json", b'[{"a": 1},', "JSON", 1),
        ("faq.xlsx", b"PK\x03\x04", "پشتیبانی نمی", None),
    ],
)
def test_bad_files_get_a_persian_message_with_the_line(
    name: str, data: bytes, words: str, line: int | None
) -> None:
    with pytest.raises(UploadError) as caught:
        inspect_upload(name, data, LIMIT)
    assert words in caught.value.message
    assert caught.value.line == line
    if line is not None:
        assert "خط" in caught.value.message


def test_a_100_mb_file_is_refused_by_size() -> None:
    with pytest.raises(UploadError) as caught:
        inspect_upload("big.csv", b"a" * (100 * 1024 * 1024), LIMIT)
    assert "۱۰۰ مگابایت" in caught.value.message and "۵۰" in caught.value.message


def test_mapping_needs_two_existing_distinct_columns() -> None:
    preview = inspect_upload("faq.csv", faq_csv(), LIMIT)
    with pytest.raises(UploadError, match="ستون پاسخ"):
        check_mapping(preview, "پرسش", "answer")
    with pytest.raises(UploadError, match="متفاوت"):
        check_mapping(preview, "پرسش", "پرسش")


def test_a_file_just_over_the_limit_says_by_how_much() -> None:
    with pytest.raises(UploadError) as caught:
        inspect_upload("big.csv", b"a" * (LIMIT + 1), LIMIT)
    assert "۵۰٫۱ مگابایت است؛" in caught.value.message  # never "50 MB; the maximum is 50 MB"


@pytest.mark.parametrize(
    ("name", "data", "words", "line"),
    [
        # a cell over the csv module's field limit stopped the reader with _csv.Error
        ("faq.csv", "پرسش,پاسخ\nسلام,درود\nبلند,".encode() + b"x" * 200_000 + b"\n", "CSV", 3),
        # 100,000-deep JSON raised RecursionError
        ("faq.json", b"[" * 100_000 + b"]" * 100_000, "تودرتو", None),
    ],
)
def test_unreadable_files_get_a_persian_message(
    name: str, data: bytes, words: str, line: int | None
) -> None:
    with pytest.raises(UploadError) as caught:
        inspect_upload(name, data, LIMIT)
    assert words in caught.value.message and caught.value.line == line


def test_a_deep_jsonl_row_is_a_bad_row_not_a_crash() -> None:
    good = json.dumps({"پرسش": "سلام", "پاسخ": "درود"}, ensure_ascii=False)
    data = f"{good}\n".encode() + b"[" * 100_000 + b"\n" + f"{good}\n".encode()
    preview = inspect_upload("faq.jsonl", data, LIMIT)
    assert preview.row_count == 2 and preview.bad_row_count == 1
    assert preview.bad_rows[0].startswith("۲:")


def test_a_large_file_of_short_rows_keeps_only_a_preview() -> None:
    """A million short rows (the outside test's 48 MB file, scaled down) are counted
    without being kept: the memory a preview needs, not the file's rows."""
    import tracemalloc

    rows = 1_000_000
    data = b"question,answer\n" + b"q,a\n" * rows
    tracemalloc.start()
    try:
        preview = inspect_upload("faq.csv", data, LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert preview.row_count == rows and len(preview.rows) == 5
    assert peak < 5 * 1024 * 1024, peak  # the rows as dicts would take hundreds of MB
