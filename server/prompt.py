"""From a validated request body to the prompt the engine runs, enforcing the server's limits.

Messages are normalized with the settings recorded at data-preparation time (the model saw
text written that way), the Persian system prompt is added when the client sent none, and
a conversation too long for the model loses its oldest turns first (the system prompt and
the last user turn always stay); when even those do not fit, PromptError says so. No HTTP
here: the chat service turns a PromptError into a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from persian_chat import chat_template
from persian_chat.chat_format import Message
from persian_chat.knowledge import Passage, with_passages
from persian_chat.server.api_schema import ChatMessageIn, Sampling, SamplingFields
from persian_chat.server.grammar import (
    Constraint,
    Grammar,
    GrammarError,
    check_grammar,
    schema_grammar,
)
from persian_chat.server.knowledge import Retriever
from persian_chat.server.sampling import DEFAULT_SAMPLING, SamplingParams
from persian_chat.server.sequence import GenerationRequest
from persian_chat.server.served_model import ServedModel
from persian_chat.server.settings import ServerSettings
from persian_chat.server.tools import forced_call, plain_messages

SAMPLING_FIELDS = {f.name for f in fields(SamplingParams)}


class PromptError(ValueError):
    """The request cannot become a prompt; `param` names the field to fix."""

    def __init__(self, message: str, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def prompt_ids(
    model: ServedModel, messages: list[Message], add_generation_prompt: bool = True
) -> list[int]:
    return chat_template.prompt_ids(
        model.tokenizer, messages, model.bos_token, model.chat_template, add_generation_prompt
    )


@dataclass(frozen=True)
class Prompt:
    """What the engine runs for one request, with what the stream and the log need."""

    request: GenerationRequest
    stops: tuple[str, ...]
    messages: list[Message]  # as the model sees them (normalized, system prompt first)
    dropped_messages: int  # oldest turns left out to fit the context
    sources: tuple[Passage, ...] = ()  # knowledge passages put in front of the question


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


def _count_tokens(model: ServedModel, text: str) -> int:
    return len(model.tokenizer.encode(text, add_special_tokens=False).ids)


def _fit(
    model: ServedModel, messages: list[Message], budget: int
) -> tuple[list[int], list[Message]] | None:
    """Prompt ids within `budget` tokens and the messages kept, dropping the oldest turns
    (a user turn with its answer); None if even the last turn does not fit."""
    system = messages[:1] if messages[0]["role"] == "system" else []
    turns = messages[len(system) :]
    while True:
        ids = prompt_ids(model, system + turns)
        if len(ids) <= budget:
            return ids, system + turns
        if len(turns) <= 1:
            return None
        turns = turns[2 if len(turns) > 2 and turns[1]["role"] == "assistant" else 1 :]


def model_messages(
    sent: Sequence[ChatMessageIn],
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
) -> list[Message]:
    """The messages as the model sees them: normalized, the system prompt first."""
    # an assistant's calls stay the JSON they were (digits and all); other text is normalized
    messages: list[Message] = [
        m if sent_m.tool_calls else {"role": m["role"], "content": normalize(m["content"])}
        for m, sent_m in zip(plain_messages(list(sent)), sent, strict=True)
    ]
    system_prompt = settings.system_prompt or model.system_prompt
    if messages[0]["role"] != "system" and system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    if any(m["role"] == "system" for m in messages[1:]):
        raise PromptError("only the first message may be a system message", param="messages")
    return messages


def system_prefix(model: ServedModel, settings: ServerSettings) -> list[int]:
    """The tokens every prompt with the default system prompt begins with (up to where the
    first user message starts): the engine computes their KV once, at start-up."""
    system_prompt = settings.system_prompt or model.system_prompt
    head: list[Message] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    first, second = (
        prompt_ids(model, [*head, {"role": "user", "content": text}]) for text in ("الف", "ب")
    )
    shared = 0
    while shared < min(len(first), len(second)) and first[shared] == second[shared]:
        shared += 1
    return first[:shared]


def sampling_params(body: Sampling) -> SamplingParams:
    """The request's sampling settings; a field the client left out takes the server's
    default (DEFAULT_SAMPLING, chosen by the chat evaluation)."""
    sent = body.model_dump(include=SAMPLING_FIELDS, exclude_none=True)
    return replace(DEFAULT_SAMPLING, **sent)


def response_constraint(body: SamplingFields, model: ServedModel) -> Constraint | None:
    """The constraint a forced tool call or the body's `response_format` asks for (a forced
    call wins), its matcher built here, off the event loop; PromptError (400 naming the
    field, and the schema keyword llguidance refused) otherwise."""
    forced = forced_call(body)
    if forced is not None:
        spec: dict[str, Any] = {
            "type": "json_schema",
            "json_schema": {"schema": forced.schema()},
        }
        param = "tools"
    elif body.response_format is not None:
        spec, param = body.response_format.as_dict(), "response_format"
    else:
        return None
    try:
        text = schema_grammar(spec)
        if text is None:
            return None
        check_grammar(text, model.grammar_tokenizer)
        return Constraint(Grammar(model.grammar_tokenizer, text))
    except GrammarError as exc:
        raise PromptError(exc.message, param=param, code="unsupported_schema") from None


def build_prompt(
    body: SamplingFields,
    max_tokens: int | None,
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
    cache_scope: str = "",
    knowledge: Retriever | None = None,
) -> Prompt:
    """The engine request for a chat body; `cache_scope` names whose prompt-cache entries
    it may reuse (the caller's, server/prompt_cache.py); `knowledge` retrieves passages for
    the last user turn unless the body turns it off."""
    check_limits(body, settings, max_tokens)
    plain = model_messages(body.messages, model, settings, normalize)
    found: list[Passage] = []
    if knowledge is not None and body.knowledge:
        found = knowledge.for_messages(plain, lambda text: _count_tokens(model, text))
    reply_tokens = max_tokens or settings.default_max_tokens
    context = model.context_length
    prompt_limit = min(settings.max_prompt_tokens or context - 1, context - 1)
    # the passages are the first to go when the last turn does not fit with them
    for count in range(len(found), -1, -1):
        sources, messages = found[:count], with_passages(plain, found[:count])
        fitted = _fit(model, messages, max(1, min(prompt_limit, context - reply_tokens)))
        if fitted is None:  # keep the reply budget only as far as possible
            fitted = _fit(model, messages, prompt_limit)
        if fitted is not None:
            break
    if fitted is None:
        raise PromptError(
            f"the last message does not fit the model's context of {context} tokens "
            f"(prompt limit {prompt_limit})",
            param="messages",
            code="context_length_exceeded",
        )
    ids, kept = fitted
    params = sampling_params(body)
    request = GenerationRequest(
        ids,
        params,
        reply_tokens,
        model.stop_ids,
        logprobs=body.requested_logprobs,
        cache_scope=cache_scope,
        constraint=response_constraint(body, model),
    )
    return Prompt(request, body.stops, kept, len(messages) - len(kept), tuple(sources))
