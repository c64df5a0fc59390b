"""Request bodies of the API (chat, tokenize, admin), validated by pydantic.

Ranges that do not depend on server settings live here; limits that do (message count,
characters, max_tokens ceiling) are checked in server/http/prompt_request.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
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


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    name: Text = Field(min_length=1, max_length=64)
    arguments: Text  # JSON, as OpenAI sends it


class ToolCall(BaseModel):
    """An assistant's earlier call in the history: OpenAI's `tool_calls` entry."""

    model_config = ConfigDict(extra="ignore", strict=True)
    id: Text = Field(min_length=1, max_length=128)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["system", "user", "assistant", "tool"]
    # before content: content's validator reads it
    tool_calls: list[ToolCall] | None = Field(None, min_length=1, max_length=16)
    content: Text | list[TextPart] | None = Field(None, validate_default=True)
    tool_call_id: Text | None = Field(None, max_length=128)  # a tool message's call
    name: Text | None = Field(None, max_length=64)

    @field_validator("tool_calls")
    @classmethod
    def _calls_are_the_assistants(
        cls, value: list[ToolCall] | None, info: ValidationInfo
    ) -> list[ToolCall] | None:
        if value is not None and info.data.get("role") != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        return value

    @field_validator("content")
    @classmethod
    def _content_or_calls(cls, value: object, info: ValidationInfo) -> object:
        if value is None and not info.data.get("tool_calls"):
            raise ValueError("content is required (it may be null only beside tool_calls)")
        return value

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(BaseModel):
    """OpenAI's `response_format.json_schema`: a name, the schema, and `strict` (always
    honoured: the answer is constrained to the schema either way)."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)
    name: Text = Field("response", min_length=1, max_length=64)
    description: Text | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(BaseModel):
    """`{"type": "text"}`, `{"type": "json_object"}` (any JSON object) or
    `{"type": "json_schema", "json_schema": {...}}` (llguidance's supported subset)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_for_json_schema(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type json_schema needs a json_schema object")
        return self

    def as_dict(self) -> dict[str, Any]:
        schema = self.json_schema.json_schema if self.json_schema is not None else None
        return {"type": self.type, "json_schema": {"schema": schema}}


class ModelNamed(BaseModel):
    """A body that may name the model it is for (None: the first one served; a name the
    server does not serve is a 404)."""

    model: Text | None = None


class Sampling(ModelNamed):
    """Fields every generating route shares (the chat routes and /v1/completions). Numbers
    are strict JSON numbers (an integer field refuses 4.0, "4" and true); every accepted
    value samples safely (tested with hypothesis over the whole range)."""

    model_config = STRICT
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
    # vLLM's: the prompt cache is already per API key; an app serving many end users behind
    # one key sends one salt per end user, so they never reuse each other's cached prompts
    cache_salt: Text | None = Field(None, min_length=1, max_length=256)

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


class SamplingFields(Sampling):
    """Fields both chat routes share."""

    messages: list[ChatMessageIn] = Field(min_length=1)
    # our extension: numbered events, resumable with Last-Event-ID after a dropped connection
    resumable: StrictBool = False
    # our extension: false answers without the knowledge base's passages
    knowledge: StrictBool = True
    # structured output: the answer is constrained to JSON (llguidance)
    response_format: ResponseFormat | None = None


class ChatRequest(SamplingFields):
    """POST /api/chat: streams by default."""

    model_config = ConfigDict(extra="forbid", strict=True)
    stream: StrictBool = True


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    include_usage: StrictBool = False


class FunctionSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: Text | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: StrictBool | None = None


class ToolSpec(BaseModel):
    """OpenAI's `tools` entry: a function the answer may be a call of."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: Literal["function"]
    function: FunctionSpec


class ChosenFunction(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    name: Text


class ToolChoice(BaseModel):
    """`{"type": "function", "function": {"name": ...}}`: this function must be called."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: Literal["function"]
    function: ChosenFunction


class OpenAIChatRequest(SamplingFields):
    """POST /v1/chat/completions: the subset of OpenAI's fields a local model can honour.
    Unknown fields are ignored (clients send many); ones we cannot honour are refused."""

    model_config = ConfigDict(extra="ignore", strict=True)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1)
    logprobs: StrictBool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    # function calling: with "required" or a named function the answer is a call, its
    # arguments constrained to the function's parameter schema; "auto" and "none" answer
    # in text (a 270M model is not trained to choose)
    tools: list[ToolSpec] | None = Field(None, min_length=1, max_length=64)
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None

    @field_validator("tool_choice")
    @classmethod
    def _choice_names_a_tool(
        cls, value: str | ToolChoice | None, info: ValidationInfo
    ) -> str | ToolChoice | None:
        tools = info.data.get("tools") or []
        names = {tool.function.name for tool in tools}
        if value == "required" and not tools:
            raise ValueError("tool_choice 'required' needs tools")
        if isinstance(value, ToolChoice) and value.function.name not in names:
            raise ValueError(f"tool_choice names {value.function.name!r}, which is not in tools")
        return value

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


class CompletionRequest(Sampling):
    """POST /v1/completions: text (or token ids) continued as is, no chat template and no
    normalization, <bos> first; what evaluation harnesses score models with
    (lm-evaluation-harness's `local-completions`: `echo` with `logprobs` gives the prompt's
    own log-probabilities)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    prompt: Text | list[Annotated[int, Field(ge=0)]] | list[Text]
    max_tokens: int | None = Field(16, ge=0)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1)
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: StrictBool = False

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_batch_of_ids(cls, value: object) -> object:
        """A batch of one tokenized prompt (`[[ids]]`, as lm-evaluation-harness sends with
        `tokenized_requests`) is that prompt's ids."""
        if isinstance(value, list) and value and isinstance(value[0], list):
            if len(value) != 1:
                raise ValueError("one prompt per request (a list of one list of ids is accepted)")
            return value[0]
        return value

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[int] | list[str]) -> str | list[int] | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be empty")
        if isinstance(value, list) and isinstance(value[0], str) and len(value) != 1:
            raise ValueError("one prompt per request (a list of one string is accepted)")
        return value

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens

    @property
    def requested_logprobs(self) -> int | None:
        return self.logprobs


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
