"""From plain messages and sampling values to the prompt the engine runs.

Messages are normalized with the settings recorded at data-preparation time (the model saw
text written that way), the Persian system prompt is added when the client sent none, and
a conversation too long for the model loses its oldest turns first (the system prompt and
the last user turn always stay); when even those do not fit, PromptError says so. No HTTP
here: server/http/prompt_request.py turns a request body into a ChatInput and checks the
server's limits, and the chat service turns a PromptError into a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from persian_chat import chat_template
from persian_chat.chat_format import Message
from persian_chat.knowledge import Passage, with_passages
from persian_chat.server.engine.generation import GenerationRequest
from persian_chat.server.engine.grammar import (
    Constraint,
    Grammar,
    GrammarError,
    check_grammar,
    schema_grammar,
)
from persian_chat.server.engine.sampling import SamplingParams
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.retriever import Retriever
from persian_chat.server.text.served_model import ServedModel


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


@dataclass(frozen=True)
class ChatInput:
    """What a chat request asks of the prompt layer, as plain values: the messages with tool
    calls and results already written as the model's turns, the sampling values, and a JSON
    schema to constrain the answer to (with the request field that asked for it)."""

    messages: list[Message]
    verbatim: tuple[bool, ...]  # per message: kept as sent (an assistant's call JSON)
    sampling: SamplingParams
    stops: tuple[str, ...] = ()
    logprobs: int | None = None  # None: none; N: the chosen token's and the N most likely
    schema: dict[str, Any] | None = None  # a response_format dict: {"type", "json_schema"}
    schema_param: str = "response_format"
    knowledge: bool = True  # false: no passages from the knowledge base


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
    plain: Sequence[Message],
    verbatim: Sequence[bool],
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
) -> list[Message]:
    """The messages as the model sees them: normalized, the system prompt first."""
    # an assistant's calls stay the JSON they were (digits and all); other text is normalized
    messages: list[Message] = [
        m if kept else {"role": m["role"], "content": normalize(m["content"])}
        for m, kept in zip(plain, verbatim, strict=True)
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


def response_constraint(
    spec: dict[str, Any] | None, param: str, model: ServedModel
) -> Constraint | None:
    """The constraint a response_format dict asks for, its matcher built here, off the
    event loop; PromptError (400 naming `param`, and the schema keyword llguidance refused)
    otherwise."""
    if spec is None:
        return None
    try:
        text = schema_grammar(spec)
        if text is None:
            return None
        check_grammar(text, model.grammar_tokenizer)
        return Constraint(Grammar(model.grammar_tokenizer, text))
    except GrammarError as exc:
        raise PromptError(exc.message, param=param, code="unsupported_schema") from None


def chat_prompt(
    chat: ChatInput,
    max_tokens: int | None,
    model: ServedModel,
    settings: ServerSettings,
    normalize: Callable[[str], str],
    cache_scope: str = "",
    knowledge: Retriever | None = None,
) -> Prompt:
    """The engine request for a chat; `cache_scope` names whose prompt-cache entries it may
    reuse (the caller's, server/kv/prompt_cache.py); `knowledge` retrieves passages for the
    last user turn unless the chat turns it off."""
    plain = model_messages(chat.messages, chat.verbatim, model, settings, normalize)
    found: list[Passage] = []
    if knowledge is not None and chat.knowledge:
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
    request = GenerationRequest(
        ids,
        chat.sampling,
        reply_tokens,
        model.stop_ids,
        logprobs=chat.logprobs,
        cache_scope=cache_scope,
        constraint=response_constraint(chat.schema, chat.schema_param, model),
    )
    return Prompt(request, chat.stops, kept, len(messages) - len(kept), tuple(sources))
