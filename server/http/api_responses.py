"""Response bodies of the HTTP API as pydantic models: only the OpenAPI document uses them
(the routes build plain dicts), so clients and schemathesis check the shapes that are sent."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer."""

    error: ErrorDetail


class MessageOut(BaseModel):
    role: Literal["assistant"]
    content: str


class PromptTokensDetails(BaseModel):
    cached_tokens: int  # prompt tokens whose KV came from the prefix or prompt cache


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


class Timings(BaseModel):
    time_to_first_token_s: float | None
    total_s: float
    decode_tokens_per_s: float | None


class Source(BaseModel):
    """A knowledge passage the answer was given (our extension on both chat routes)."""

    id: str
    title: str


class ChatResponse(BaseModel):
    """POST /api/chat with "stream": false."""

    message: MessageOut
    done: Literal[True]
    finish_reason: str | None
    usage: Usage
    timings: Timings
    model: str
    id: str
    sources: list[Source]


class TopLogprob(BaseModel):
    token: str  # "bytes:\\xd8" for a token that is part of a character
    logprob: float
    bytes: list[int]


class TokenLogprobOut(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprobOut]


class FunctionCallOut(BaseModel):
    name: str
    arguments: str  # JSON text of the arguments (OpenAI's shape)


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCallOut


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None  # None when the answer is a tool call
    tool_calls: list[ToolCallOut] | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: ChoiceLogprobs | None


class CompletionLogprobs(BaseModel):
    """The legacy completion shape; the first prompt token of an echo has no logprob."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None
    finish_reason: Literal["stop", "length"]


class Completion(BaseModel):
    """POST /v1/completions with "stream": false (OpenAI's legacy text_completion)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ChatCompletion(BaseModel):
    """POST /v1/chat/completions with "stream": false (OpenAI's shape)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    sources: list[Source]  # our extension: the knowledge passages the answer was given


class ModelEntry(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    loaded: bool  # our extension: false until its first request loads it (serve --model again)


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelEntry]


class Health(BaseModel):
    status: str
    model: str | None = None  # the first model: requests that name none get it
    models: list[str] | None = None  # every model served (loaded or not), the first first
    active: int | None = None
    waiting: int | None = None
    error: str | None = None


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]


class DetokenizeResponse(BaseModel):
    prompt: str


class CancelResponse(BaseModel):
    """DELETE /api/chat/{request_id}."""

    id: str
    cancelled: Literal[True]


class ModelAddResponse(BaseModel):
    """POST /admin/models: the model added (loaded on its first request) and every model
    the server now answers with."""

    model: str
    models: list[str]


class ModelSwitchResponse(BaseModel):
    """POST /admin/model: the model now served, the one before it, and the load time."""

    model: str
    previous: str
    load_seconds: float


class KnowledgeHit(BaseModel):
    id: str
    title: str
    text: str
    source: str
    domain: str
    coverage: float  # share of the question's information the passage holds
    bm25: float  # SQLite's bm25(): lower is better


class KnowledgeSearchResponse(BaseModel):
    """POST /knowledge/search: what the chat would retrieve."""

    passages: int
    min_coverage: float
    hits: list[KnowledgeHit]


MODELS: list[type[BaseModel]] = [
    ErrorBody,
    ChatResponse,
    ChatCompletion,
    Completion,
    ModelList,
    Health,
    TokenizeResponse,
    DetokenizeResponse,
    CancelResponse,
    ModelSwitchResponse,
    ModelAddResponse,
    KnowledgeSearchResponse,
]
