from __future__ import annotations

import json

import pytest
from persian_chat_ui.conversations_file import (
    FORMAT,
    MAX_FILE_BYTES,
    ConversationFileError,
    export_text,
    merge,
    parse_import,
)

CONVERSATION = {
    "id": "a1",
    "title": "سلام",
    "updated": 5.0,
    "messages": [{"role": "user", "content": "سلام"}, {"role": "assistant", "content": "درود"}],
}


def test_an_export_imports_back_unchanged() -> None:
    text = export_text([CONVERSATION])
    assert json.loads(text)["format"] == FORMAT and "سلام" in text  # Persian kept readable
    assert parse_import(text.encode()) == [CONVERSATION]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"\xff\xfe", "UTF-8"),
        (b'{"format": "x", "conversations": []}', "همین برنامه"),
        (b'{\n"format":\n', "خط ۳"),
        (
            json.dumps({"format": FORMAT, "conversations": [{"id": "", "messages": []}]}).encode(),
            "گفتگوی ۱",
        ),
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "conversations": [
                        CONVERSATION,
                        {
                            **CONVERSATION,
                            "id": "b",
                            "messages": [{"role": "robot", "content": "x"}],
                        },
                    ],
                }
            ).encode(),
            "پیام ۱ از گفتگوی ۲",
        ),
        (b" " * (MAX_FILE_BYTES + 1), "۵ مگابایت"),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem(data: bytes, named: str) -> None:
    with pytest.raises(ConversationFileError, match=named):
        parse_import(data)


def test_imported_conversations_replace_same_ids_and_keep_the_newest() -> None:
    old = {**CONVERSATION, "title": "قدیمی", "updated": 1.0}
    other = {**CONVERSATION, "id": "b2", "updated": 9.0}
    merged = merge([old, other], [CONVERSATION], limit=2)
    assert [c["id"] for c in merged] == ["b2", "a1"] and merged[1]["title"] == "سلام"
    assert merge([old, other], [CONVERSATION], limit=1) == [other]
