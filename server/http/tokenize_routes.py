"""POST /tokenize and POST /detokenize, vLLM's shape: count a prompt before sending it, see
how the model splits Persian text, turn ids back into text.

`messages` go through the same path as a chat request (normalization, default system
prompt, chat template), so the count is the prompt a chat request with them would cost.
Both routes pass the same gate as chat (key, rate limit, body, schema).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import DetokenizeRequest, ModelNamed, TokenizeRequest
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.prompt_request import body_messages, check_messages
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.text.prompt import PromptError, prompt_ids


def _tokenize(body: TokenizeRequest, runtime: Runtime, state: AppState) -> list[int]:
    settings, model = state.settings, runtime.model
    if body.messages is not None:
        try:
            check_messages(body.messages, settings)
            messages = body_messages(body.messages, model, settings, runtime.normalize)
        except PromptError as exc:
            raise ApiError(400, exc.message, param=exc.param, code=exc.code) from None
        return prompt_ids(model, messages, body.add_generation_prompt)
    assert body.prompt is not None
    if len(body.prompt) > settings.max_total_chars:
        raise ApiError(
            400,
            f"at most {settings.max_total_chars} characters",
            param="prompt",
            code="invalid_value",
        )
    return list(model.tokenizer.encode(body.prompt, add_special_tokens=False).ids)


Body = TypeVar("Body", bound=ModelNamed)


async def gated_answer(
    request: Request,
    route: str,
    schema: type[Body],
    work: Callable[[Body, Runtime, AppState], dict[str, Any]],
) -> Response:
    """Run `work(body, runtime, state)` behind the gate; count the request by its status."""
    state: AppState = request.app.state.app_state
    status = 200
    try:
        state.ready()
        key = state.gate.authorize(request)
        body = await state.gate.admit(request, key, schema)
        runtime = await state.runtime_for(body.model)
        result = await asyncio.to_thread(work, body, runtime, state)
        return JSONResponse(result)
    except ApiError as exc:
        status = exc.status
        return exc.response()
    finally:
        state.metrics.requests.labels(route, str(status)).inc()


def _tokenize_answer(body: TokenizeRequest, runtime: Runtime, state: AppState) -> dict[str, Any]:
    if (body.prompt is None) == (body.messages is None):
        raise ApiError(400, "send either prompt or messages", param="prompt", code="invalid_value")
    ids = _tokenize(body, runtime, state)
    return {"count": len(ids), "max_model_len": runtime.model.context_length, "tokens": ids}


def _detokenize_answer(
    body: DetokenizeRequest, runtime: Runtime, state: AppState
) -> dict[str, Any]:
    tokenizer = runtime.model.tokenizer
    size = tokenizer.get_vocab_size()
    limit = runtime.model.context_length
    if len(body.tokens) > limit:
        raise ApiError(400, f"at most {limit} tokens", param="tokens", code="invalid_value")
    for index, token in enumerate(body.tokens):
        if token >= size:
            raise ApiError(
                400,
                f"token id {token} is not below the vocabulary size {size}",
                param=f"tokens.{index}",
                code="invalid_value",
            )
    return {"prompt": tokenizer.decode(body.tokens, skip_special_tokens=False)}


async def tokenize(request: Request) -> Response:
    return await gated_answer(request, "/tokenize", TokenizeRequest, _tokenize_answer)


async def detokenize(request: Request) -> Response:
    return await gated_answer(request, "/detokenize", DetokenizeRequest, _detokenize_answer)
