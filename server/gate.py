"""The checks every POST passes before any work is done, in order: API key (a client address
that keeps failing is slowed), rate limit, content type, body size, JSON, schema. Each
refusal is an ApiError naming what to fix."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from persian_chat.server.api_errors import ApiError, from_validation_error
from persian_chat.server.auth import ApiKeys
from persian_chat.server.json_body import parse_body
from persian_chat.server.rate_limit import RateLimiter, retry_after_header
from persian_chat.server.settings import ServerSettings

Body = TypeVar("Body", bound=BaseModel)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def check_model(requested: str | None, model_id: str) -> None:
    """A body that names a model must name the served one (404 otherwise, as OpenAI's)."""
    if requested not in (None, model_id):
        raise ApiError(404, f"model {requested!r} not found; this server has {model_id!r}",
                       param="model", code="model_not_found")  # fmt: skip


class Gate:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.keys = ApiKeys(settings.api_keys)
        admin = frozenset({settings.admin_key} if settings.admin_key else ())
        self.admin_keys = ApiKeys(admin, label="admin key")
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.auth_failures = RateLimiter(settings.auth_failures_per_minute)

    def authorize(self, request: Request, keys: ApiKeys | None = None) -> str:
        """The caller's key id (checked against `keys`, the API keys by default); a client
        address that keeps failing is slowed with 429s."""
        keys = self.keys if keys is None else keys
        address = _address(request)
        wait = self.auth_failures.wait(address)
        if wait:
            raise ApiError(
                429, "too many failed authentications, retry later",
                code="rate_limit_exceeded", headers=retry_after_header(wait),
            )  # fmt: skip
        try:
            return keys.authorize(request.headers.get("authorization"))
        except ApiError:
            self.auth_failures.acquire(address)
            raise

    def authorize_admin(self, request: Request) -> str:
        """The admin key's id, or 403 when the server has none (an admin route must never
        be open just because no key was configured), or 401 as `authorize`."""
        if not self.admin_keys.enabled:
            message = "admin routes are off: the server has no admin key (PERSIAN_CHAT_ADMIN_KEY)"
            raise ApiError(403, message, code="admin_disabled")
        return self.authorize(request, self.admin_keys)

    async def read_json(self, request: Request) -> Any:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, "send the body as Content-Type: application/json",
                           code="unsupported_media_type")  # fmt: skip
        declared = request.headers.get("content-length")
        limit = self.settings.max_body_bytes
        too_big = ApiError(413, f"request body over {limit} bytes", code="body_too_large")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_big
        return parse_body(bytes(body), self.settings.max_json_depth)

    async def admit(self, request: Request, key: str, schema: type[Body]) -> Body:
        """The validated body of an authorized request (`key` from `authorize`)."""
        client = key if self.keys.enabled else _address(request)
        wait = self.limiter.acquire(client)
        if wait:
            raise ApiError(
                429, "rate limit reached, retry later", code="rate_limit_exceeded",
                headers=retry_after_header(wait),
            )  # fmt: skip
        return await self.read_body(request, schema)

    async def read_body(self, request: Request, schema: type[Body]) -> Body:
        """The body validated against `schema` (content type, size, JSON, schema)."""
        data = await self.read_json(request)
        if not isinstance(data, dict):
            raise ApiError(400, "body must be a JSON object", code="invalid_json")
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc) from None
