"""Request bodies of the API (chat, tokenize, admin), validated by pydantic.

Ranges that do not depend on server settings live here; limits that do (message count,
characters, max_tokens ceiling) are checked in server/prompt.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)


def _encodable(value: str) -> str:
    """Text the tokenizer can take: a lone surrogate (JSON "\\ud800") is not text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]
STRICT = ConfigDict(strict=True)  # JSON types as sent: "4" is not 4, true is not 1


class TextPart(BaseModel):
    """OpenAI's content-part form: [{"type": "text", "text": "..."}]."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text"]
    text: Text


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["system", "user", "assistant"]
    content: Text | list[TextPart]

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class SamplingFields(BaseModel):
    """Fields both chat routes share. Numbers are strict JSON numbers (an integer field
    refuses 4.0, "4" and true); every accepted value samples safely (tested with hypothesis
    over the whole range)."""

    model_config = STRICT
    messages: list[ChatMessageIn] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0, le=1000)
    repetition_penalty: float | None = Field(None, gt=0, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    no_repeat_ngram_size: int | None = Field(None, ge=0, le=16)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    max_tokens: int | None = Field(None, ge=1)
    stop: Text | list[Text] | None = None
    # our extension: numbered events, resumable with Last-Event-ID after a dropped connection
    resumable: StrictBool = False
    # vLLM's: the prompt cache is already per API key; an app serving many end users behind
    # one key sends one salt per end user, so they never reuse each other's cached prompts
    cache_salt: Text | None = Field(None, min_length=1, max_length=256)
    # our extension: false answers without the knowledge base's passages
    knowledge: StrictBool = True

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if any(not s for s in stops):
            raise ValueError("stop strings must not be empty")
        return value

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens

    @property
    def requested_logprobs(self) -> int | None:
        """None: no log-probabilities; N: the chosen token's and the N most likely."""
        return None

    @property
    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatRequest(SamplingFields):
    """POST /api/chat: streams by default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    stream: StrictBool = True


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    include_usage: StrictBool = False


class OpenAIChatRequest(SamplingFields):
    """POST /v1/chat/completions: the subset of OpenAI's fields a local model can honour.
    Unknown fields are ignored (clients send many); ones we cannot honour are refused."""

    model_config = ConfigDict(extra="ignore", strict=True)
    model: Text | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1)
    logprobs: StrictBool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)

    @field_validator("top_logprobs")
    @classmethod
    def _top_needs_logprobs(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("top_logprobs needs logprobs: true")
        return value

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def requested_logprobs(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None


class ModelNamed(BaseModel):
    """A body that may name the model it is for (checked against the served one)."""

    model: Text | None = None


class TokenizeRequest(ModelNamed):
    """POST /tokenize: a text as it is, or messages through the chat template (normalized,
    with the default system prompt, as a chat request would build them). Exactly one of
    `prompt` and `messages` (checked by the route, which names the field)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: Text | None = None
    messages: list[ChatMessageIn] | None = Field(None, min_length=1)
    add_generation_prompt: StrictBool = True


class DetokenizeRequest(ModelNamed):
    """POST /detokenize: token ids back to text."""

    model_config = ConfigDict(extra="forbid", strict=True)
    tokens: list[Annotated[int, Field(ge=0)]]


class ModelSwitchRequest(BaseModel):
    """POST /admin/model: the served model directory to switch to (a path on the server)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model_dir: Text = Field(min_length=1, max_length=4096)


class KnowledgeSearchRequest(ModelNamed):
    """POST /knowledge/search: what the chat would retrieve for a question."""

    model_config = ConfigDict(extra="forbid", strict=True)
    query: Text = Field(min_length=1, max_length=2000)
    k: int = Field(3, ge=1, le=20)
    min_coverage: float | None = Field(None, ge=0, le=1)
