"""From a validated request body to the prompt layer's plain values (text.prompt.ChatInput),
with the server's limits on what a body may carry checked first.

The prompt layer below knows nothing of request bodies; this is where an OpenAI or Ollama
body's tool calls become the model's turns, its sampling fields fall back to the server's
defaults, and a forced tool call or `response_format` becomes the JSON schema the answer is
constrained to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any

from persian_chat.chat_format import Message
from persian_chat.server.engine.sampling import DEFAULT_SAMPLING, SamplingParams
from persian_chat.server.http.api_schema import ChatMessageIn, Sampling, SamplingFields
from persian_chat.server.http.tools import forced_call, plain_messages
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import (
    ChatInput,
    Prompt,
    PromptError,
    chat_prompt,
    model_messages,
)
from persian_chat.server.text.retriever import Retriever
from persian_chat.server.text.served_model import ServedModel

SAMPLING_FIELDS = {f.name for f in fields(SamplingParams)}


def check_messages(sent: Sequence[ChatMessageIn], settings: ServerSettings) -> None:
    """The server's limits on messages: how many, characters in each and in all."""
    if len(sent) > settings.max_messages:
        raise PromptError(f"at most {settings.max_messages} messages", param="messages")
    total = 0
    for index, message in enumerate(sent):
        calls = message.tool_calls or []
        size = len(message.text) + sum(len(c.function.arguments) for c in calls)
        total += size
        if size > settings.max_message_chars:
            raise PromptError(
                f"a message may have at most {settings.max_message_chars} characters",
                param=f"messages.{index}.content",
            )
    if total > settings.max_total_chars:
        raise PromptError(f"at most {settings.max_total_chars} characters in all", "messages")


def check_limits(body: SamplingFields, settings: ServerSettings, max_tokens: int | None) -> None:
    check_messages(body.messages, settings)
    if body.messages[-1].role not in ("user", "tool"):
        raise PromptError("the last message must be the user's (or a tool's)", param="messages")
    if max_tokens is not None and max_tokens > settings.max_tokens_limit:
        raise PromptError(f"max_tokens may be at most {settings.max_tokens_limit}", "max_tokens")
    stops = body.stops
    if len(stops) > settings.max_stop_strings:
        raise PromptError(f"at most {settings.max_stop_strings} stop strings", param="stop")
    if any(len(s) > settings.max_stop_chars for s in stops):
        raise PromptError(
            f"stop strings may have at most {settings.max_stop_chars} characters", "stop"
        )


def sampling_params(body: Sampling) -> SamplingParams:
    """The request's sampling settings; a field the client left out takes the server's
    default (DEFAULT_SAMPLING, chosen by the chat evaluation)."""
    sent = body.model_dump(include=SAMPLING_FIELDS, exclude_none=True)
    return replace(DEFAULT_SAMPLING, **sent)


def _plain(sent: Sequence[ChatMessageIn]) -> tuple[list[Message], tuple[bool, ...]]:
    """A body's messages with tool turns written out, and which of them stay as sent (an
    assistant's calls: their JSON is not normalized)."""
    return plain_messages(list(sent)), tuple(bool(m.tool_calls) for m in sent)


def body_messages(
    sent: Sequence[ChatMessageIn],
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
) -> list[Message]:
    """A body's messages as the model sees them (tool turns written out, normalized, the
    system prompt first)."""
    return model_messages(*_plain(sent), model, settings, normalize)


def chat_input(body: SamplingFields) -> ChatInput:
    """The body's messages, sampling values and answer constraint as plain values (a
    forced tool call's schema wins over `response_format`)."""
    forced = forced_call(body)
    schema: dict[str, Any] | None = None
    param = "response_format"
    if forced is not None:
        schema = {"type": "json_schema", "json_schema": {"schema": forced.schema()}}
        param = "tools"
    elif body.response_format is not None:
        schema = body.response_format.as_dict()
    return ChatInput(
        *_plain(body.messages),
        sampling_params(body),
        body.stops,
        body.requested_logprobs,
        schema,
        param,
        body.knowledge,
    )


def build_prompt(
    body: SamplingFields,
    max_tokens: int | None,
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
    cache_scope: str = "",
    knowledge: Retriever | None = None,
) -> Prompt:
    """The engine request for a chat body, the server's limits checked first (see
    text.prompt.chat_prompt for the rest)."""
    check_limits(body, settings, max_tokens)
    return chat_prompt(
        chat_input(body), max_tokens, model, settings, normalize, cache_scope, knowledge
    )
