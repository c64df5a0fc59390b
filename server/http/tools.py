"""Function calling (OpenAI's `tools`): which answers must be calls, the schema a call is
constrained to, how calls and tool results in the history reach the model, and the answer
turned back into `tool_calls`.

With `tool_choice: "required"` or a named function the answer is a call: one function's
arguments (its parameter schema, a named or only function) or `{"name", "arguments"}` for
one of several (each name with its own parameters). `"auto"` and `"none"` answer in text: a
270M model is not trained to decide when to call. The chat template has no tool role, so a
call in the history is the assistant's turn in the JSON the model writes, and a tool's
result is a user turn that says which tool answered.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from persian_chat.chat_format import Message, Role
from persian_chat.server.http.api_schema import (
    ChatMessageIn,
    OpenAIChatRequest,
    Sampling,
    ToolChoice,
)

TOOL_RESULT = "نتیجهٔ ابزار {name}:"
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


@dataclass(frozen=True)
class ForcedCall:
    """The functions an answer must call one of; their parameter schemas by name."""

    parameters: dict[str, dict[str, Any]]

    @property
    def single(self) -> str | None:
        return next(iter(self.parameters)) if len(self.parameters) == 1 else None

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the answer: the arguments of the one function, or a call
        object of any of them."""
        if self.single is not None:
            return self.parameters[self.single]
        return {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": name}, "arguments": parameters},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
                for name, parameters in self.parameters.items()
            ]
        }

    def calls(self, text: str) -> list[dict[str, Any]] | None:
        """The answer as OpenAI `tool_calls`; None when it is not a complete call (an
        answer cut at max_tokens)."""
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if self.single is not None:
            name, arguments = self.single, value
        elif isinstance(value, dict) and value.get("name") in self.parameters:
            name, arguments = value["name"], value.get("arguments", {})
        else:
            return None
        call_id = "call_" + uuid.uuid4().hex[:24]
        function = {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}
        return [{"id": call_id, "type": "function", "function": function}]


def closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to others (as OpenAI's
    strict function calling does): a call's arguments are the declared parameters, and a
    small model left free to add keys may write them until max_tokens."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: closed(sub) for name, sub in out[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [closed(sub) for sub in out[key]]
    for key in ("items", "not", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = closed(out[key])
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def forced_call(body: Sampling) -> ForcedCall | None:
    """The call a request's `tool_choice` forces, if any."""
    if not isinstance(body, OpenAIChatRequest) or not body.tools:
        return None
    choice = body.tool_choice
    tools = {tool.function.name: closed(tool.function.parameters) for tool in body.tools}
    if isinstance(choice, ToolChoice):
        return ForcedCall({choice.function.name: tools[choice.function.name]})
    if choice == "required":
        return ForcedCall(tools)
    return None


def message_text(message: ChatMessageIn, names: dict[str, str]) -> tuple[Role, str]:
    """The role and text the model sees for a message: a tool's result is a user turn that
    names its tool; an assistant's calls are the JSON it would have written."""
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "", "")
        return "user", f"{TOOL_RESULT.format(name=name).strip()}\n{message.text}".strip()
    if message.tool_calls:
        calls = [
            json.dumps(
                {"name": call.function.name, "arguments": _arguments(call.function.arguments)},
                ensure_ascii=False,
            )
            for call in message.tool_calls
        ]
        return "assistant", "\n".join([message.text, *calls]).strip()
    return message.role, message.text


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def call_names(messages: list[ChatMessageIn]) -> dict[str, str]:
    """Each earlier call's id and its function's name (a tool message names only the id)."""
    return {call.id: call.function.name for m in messages for call in (m.tool_calls or [])}


def plain_messages(messages: list[ChatMessageIn]) -> list[Message]:
    """The history with calls and tool results written as the model's turns."""
    names = call_names(messages)
    out: list[Message] = []
    for message in messages:
        role, text = message_text(message, names)
        out.append({"role": role, "content": text})
    return out
