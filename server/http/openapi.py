"""The OpenAPI 3.1 document of the HTTP API, generated from the pydantic models the server
validates with (never hand-written), with this server's limits filled in — so clients and
fuzzers (schemathesis runs against it in the test suite) test the contract that holds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from persian_chat.server.http.api_responses import (
    MODELS,
    CancelResponse,
    ChatCompletion,
    ChatResponse,
    Completion,
    DetokenizeResponse,
    ErrorBody,
    Health,
    KnowledgeSearchResponse,
    ModelAddResponse,
    ModelList,
    ModelSwitchResponse,
    TokenizeResponse,
)
from persian_chat.server.http.api_schema import (
    ChatRequest,
    CompletionRequest,
    DetokenizeRequest,
    KnowledgeSearchRequest,
    ModelSwitchRequest,
    OpenAIChatRequest,
    TokenizeRequest,
)
from persian_chat.server.settings import ServerSettings

REF = "#/components/schemas/{model}"


# one server-sent event as a client parses it: `data:` holds a JSON object (or [DONE])
SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
    "required": ["data"],
}
STREAM = {"text/event-stream": {"schema": SSE_EVENT}}
RESUME = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": 'resume a stream sent with "resumable": true from after this event id '
    "(within the server's grace period); 404 stream_not_found otherwise",
    "schema": {"type": "string"},
}


SWITCHED = (
    "switched: new requests go to the new model, answers running on the old one finish "
    "there. Needs the admin key (PERSIAN_CHAT_ADMIN_KEY), not an API key"
)


ADDED = (
    "added: the model is served beside the others, chosen by `model`, and loads on its "
    "first request; 409 model_exists when one of that name is served. Needs the admin key"
)


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "invalid request (the field is named in error.param)",
        401: "missing or wrong API key (the admin key on /admin/model)",
        403: "no admin key is configured on this server (admin_disabled)",
        404: "unknown model, or no stream to resume or cancel",
        409: "another model switch is loading (switch_in_progress), or a model of that "
        "name is served (model_exists)",
        413: "body too large",
        415: "body is not application/json",
        422: "the model could not be loaded (model_load_failed); the old one serves on",
        429: "rate limit or server busy (see Retry-After)",
        500: "internal error",
        503: "model loading, failed or shutting down",
    }
    return {
        str(s): {
            "description": reasons[s],
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
        for s in statuses
    }


def _limit_request(schema: dict[str, Any], settings: ServerSettings) -> dict[str, Any]:
    """Write the server's limits into a request schema (copied, per route)."""
    props = schema["properties"]
    props["messages"]["maxItems"] = settings.max_messages
    props["max_tokens"]["anyOf"][0]["maximum"] = settings.max_tokens_limit
    if "max_completion_tokens" in props:
        props["max_completion_tokens"]["anyOf"][0]["maximum"] = settings.max_tokens_limit
    stop = props["stop"]["anyOf"]
    stop[0]["maxLength"] = settings.max_stop_chars
    stop[1]["maxItems"] = settings.max_stop_strings
    stop[1]["items"]["maxLength"] = settings.max_stop_chars
    return schema


def build_openapi(settings: ServerSettings) -> dict[str, Any]:
    inputs: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ChatRequest, "validation"),
        (OpenAIChatRequest, "validation"),
        (CompletionRequest, "validation"),
        (TokenizeRequest, "validation"),
        (DetokenizeRequest, "validation"),
        (KnowledgeSearchRequest, "validation"),
        (ModelSwitchRequest, "validation"),
        *((m, "serialization") for m in MODELS),
    ]
    _, defs = models_json_schema(inputs, ref_template=REF)
    schemas: dict[str, Any] = defs["$defs"]
    schemas["ChatMessageIn"]["properties"]["content"]["anyOf"][0]["maxLength"] = (
        settings.max_message_chars
    )
    for name in ("ChatRequest", "OpenAIChatRequest"):
        _limit_request(schemas[name], settings)
    completion = schemas["CompletionRequest"]["properties"]
    completion["max_tokens"]["anyOf"][0]["maximum"] = settings.max_tokens_limit
    completion["prompt"]["anyOf"][0]["maxLength"] = settings.max_total_chars
    tokenize_props = schemas["TokenizeRequest"]["properties"]
    tokenize_props["prompt"]["anyOf"][0]["maxLength"] = settings.max_total_chars
    tokenize_props["messages"]["anyOf"][0]["maxItems"] = settings.max_messages
    secured = bool(settings.api_keys)
    security: list[dict[str, list[str]]] = [{"bearer": []}] if secured else []
    auth = (401,) if secured else ()
    # the admin route needs the admin key; without one it is off (403 to everyone), so it
    # then declares no security scheme: no header would change the answer
    admin_security: list[dict[str, list[str]]] = [{"bearer": []}] if settings.admin_key else []

    def post(
        request: type[BaseModel],
        response: type[BaseModel],
        extra: tuple[int, ...],
        what: str = "the answer: one JSON object, or server-sent events when the request "
        "asks to stream",
        admin: bool = False,
    ) -> Any:
        errors = (
            (400, 401, 403, 409, 413, 415, 422, 429, 500, 503)
            if admin
            else (400, *auth, *extra, 413, 415, 429, 500, 503)
        )
        return {
            "post": {
                "security": admin_security if admin else security,
                **({"parameters": [RESUME]} if "stream" in what else {}),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(request)}},
                },
                "responses": {
                    "200": {
                        "description": what,
                        "content": {
                            "application/json": {"schema": _ref(response)},
                            **(STREAM if "stream" in what else {}),
                        },
                    },
                    **_errors(*errors),
                },
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "persian-chat",
            "version": "1",
            "description": "Persian chat model served by onnxruntime. Besides the schema, a "
            "request is refused with 400 when the last message is not the user's, a system "
            "message is not first, all messages together exceed "
            f"{settings.max_total_chars} characters, or the last turn alone does not fit the "
            "model's context.",
        },
        "paths": {
            "/api/chat": post(ChatRequest, ChatResponse, (404,)),
            "/v1/chat/completions": post(OpenAIChatRequest, ChatCompletion, (404,)),
            "/v1/completions": post(CompletionRequest, Completion, (404,)),
            "/api/chat/{request_id}": {
                "delete": {
                    "security": security,
                    "parameters": [
                        {
                            "name": "request_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "the resumable stream was stopped",
                            "content": {"application/json": {"schema": _ref(CancelResponse)}},
                        },
                        **_errors(*auth, 404, 503),
                    },
                }
            },
            "/tokenize": post(TokenizeRequest, TokenizeResponse, (404,), "the token ids"),
            "/detokenize": post(DetokenizeRequest, DetokenizeResponse, (404,), "the text"),
            "/knowledge/search": post(
                KnowledgeSearchRequest, KnowledgeSearchResponse, (404,), "the passages found"
            ),
            "/v1/models": {
                "get": {
                    "security": security,
                    "responses": {
                        "200": {
                            "description": "the served model",
                            "content": {"application/json": {"schema": _ref(ModelList)}},
                        },
                        **_errors(*auth, 429, 503),
                    },
                }
            },
            "/health": {
                "get": {
                    "responses": {
                        code: {
                            "description": text,
                            "content": {"application/json": {"schema": _ref(Health)}},
                        }
                        for code, text in (("200", "ready"), ("503", "loading, failed or stopping"))
                    }
                }
            },
            "/admin/model": post(ModelSwitchRequest, ModelSwitchResponse, (), SWITCHED, admin=True),
            "/admin/models": post(ModelSwitchRequest, ModelAddResponse, (), ADDED, admin=True),
            "/metrics": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    }
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
