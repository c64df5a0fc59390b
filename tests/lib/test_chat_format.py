from __future__ import annotations

from typing import Any

import pytest

from persian_chat.chat_format import ChatFormatError, validate_conversation, with_system_prompt

GOOD = {
    "messages": [
        {"role": "system", "content": "دستیار"},
        {"role": "user", "content": "سلام"},
        {"role": "assistant", "content": "سلام! چطور کمک کنم؟"},
    ]
}


def test_valid_conversation_passes_and_drops_extra_keys() -> None:
    record: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "سلام", "name": "x"},
            {"role": "assistant", "content": "درود"},
        ]
    }
    assert validate_conversation(record) == {
        "messages": [
            {"role": "user", "content": "سلام"},
            {"role": "assistant", "content": "درود"},
        ]
    }
    assert validate_conversation(GOOD) == GOOD


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ([], "expected a JSON object"),
        ({}, "missing key 'messages'"),
        ({"messages": []}, "non-empty list"),
        ({"messages": ["x"]}, "messages[0] must be an object"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content must be a string"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages[0].content is empty"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]},
            "system turn may only come first",
        ),
        ({"messages": [{"role": "assistant", "content": "a"}]}, "no user turn"),
        (
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]},
            "last turn must be the assistant's",
        ),
    ],
)
def test_invalid_records_say_what_is_wrong(record: Any, problem: str) -> None:
    with pytest.raises(ChatFormatError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        validate_conversation(record)


def test_system_prompt_added_only_when_missing() -> None:
    plain = {"messages": GOOD["messages"][1:]}
    added = with_system_prompt(plain, "پیام سیستم")  # type: ignore[arg-type]
    assert added["messages"][0] == {"role": "system", "content": "پیام سیستم"}
    assert with_system_prompt(GOOD, "دیگر") == GOOD  # type: ignore[arg-type]
