"""The chat record every stage exchanges: {"messages": [{"role", "content"}, ...]}.

A record has at most one system turn (first), at least one user and one assistant turn,
and ends with the assistant's turn, which is what training takes loss on.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


class Message(TypedDict):
    role: Role
    content: str


class Conversation(TypedDict):
    messages: list[Message]


class ChatFormatError(ValueError):
    """A record that does not follow the chat schema; the message says what is wrong."""


def validate_conversation(obj: Any) -> Conversation:
    """Check `obj` against the chat schema and return it typed; raise ChatFormatError if not."""
    if not isinstance(obj, dict):
        raise ChatFormatError(f"expected a JSON object, got {type(obj).__name__}")
    if "messages" not in obj:
        raise ChatFormatError("missing key 'messages'")
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise ChatFormatError("'messages' must be a non-empty list")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ChatFormatError(f"{where} must be an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ChatFormatError(f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ChatFormatError(f"{where}.content must be a string")
        if not content.strip():
            raise ChatFormatError(f"{where}.content is empty")
        if role == "system" and index != 0:
            raise ChatFormatError(f"{where}: a system turn may only come first")
    roles = [m["role"] for m in messages]
    if "user" not in roles:
        raise ChatFormatError("no user turn")
    if roles[-1] != "assistant":
        raise ChatFormatError("the last turn must be the assistant's")
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}


def with_system_prompt(conversation: Conversation, system_prompt: str) -> Conversation:
    """Prepend `system_prompt` unless the conversation already has a system turn."""
    messages = conversation["messages"]
    if messages and messages[0]["role"] == "system":
        return conversation
    return {"messages": [{"role": "system", "content": system_prompt}, *messages]}
