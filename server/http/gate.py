"""The checks every POST passes before any work is done, in order: API key (an address or a
key prefix that keeps failing is slowed, a valid key never), rate limit, content type, body
size, JSON, schema. Each refusal is an ApiError naming what to fix.

Who the client is comes from the connection, or from `X-Forwarded-For` only when the
connection is from a configured proxy (`--trusted-proxy`): the header is the client's own
text otherwise, and trusting it would let anyone pick the address they are limited by.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from persian_chat.server.http.api_errors import ApiError, from_validation_error
from persian_chat.server.http.auth import ApiKeys
from persian_chat.server.http.json_body import parse_body
from persian_chat.server.http.rate_limit import RateLimiter, retry_after_header
from persian_chat.server.settings import ServerSettings

Body = TypeVar("Body", bound=BaseModel)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


log = logging.getLogger("persian_chat.server")
KEY_PREFIX_CHARS = 6  # failures are also counted per presented key prefix (never logged)


def client_address(request: Request, proxies: Sequence[IPNetwork]) -> str:
    """The client's address: the connection's, or, when that is a trusted proxy, the
    rightmost address in X-Forwarded-For that is not one (each proxy appends its peer)."""
    peer = request.client.host if request.client else "?"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, proxies):
            return hop[:64]
    return peer


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def cache_scope(client: str, salt: str | None) -> str:
    """The prompt-cache partition of a request: its client, and its `cache_salt` if any."""
    if salt is None:
        return client
    return client + "/" + hashlib.sha256(salt.encode("utf-8")).hexdigest()[:16]


class Gate:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.keys = ApiKeys(settings.api_keys)
        admin = frozenset({settings.admin_key} if settings.admin_key else ())
        self.admin_keys = ApiKeys(admin, label="admin key")
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.auth_failures = RateLimiter(settings.auth_failures_per_minute)
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    def address(self, request: Request) -> str:
        return client_address(request, self.proxies)

    def client(self, request: Request, key: str) -> str:
        """Who a request is for the rate limit and the prompt cache: its key id, or its
        address on a server without keys."""
        return key if self.keys.enabled else self.address(request)

    def authorize(self, request: Request, keys: ApiKeys | None = None) -> str:
        """The caller's key id (checked against `keys`, the API keys by default). The key is
        checked first, so a valid key is always served; failures are counted per address and
        per presented key prefix, and one that keeps failing gets 429s instead of 401s."""
        keys = self.keys if keys is None else keys
        header = request.headers.get("authorization")
        try:
            return keys.authorize(header)
        except ApiError:
            address = self.address(request)
            token = (header or "").partition(" ")[2].strip()
            prefix = "prefix:" + token[:KEY_PREFIX_CHARS]
            if keys is self.admin_keys:
                path = request.url.path
                log.warning("failed admin authentication from %s on %s", address, path)
            wait = max(self.auth_failures.wait(address), self.auth_failures.wait(prefix))
            if wait:
                raise ApiError(
                    429,
                    "too many failed authentications, retry later",
                    code="rate_limit_exceeded",
                    headers=retry_after_header(wait),
                ) from None
            self.auth_failures.acquire(address)
            self.auth_failures.acquire(prefix)
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
            raise ApiError(
                415,
                "send the body as Content-Type: application/json",
                code="unsupported_media_type",
            )
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
        # a worker thread: parsing 256 KiB takes milliseconds the event loop must not wait
        return await asyncio.to_thread(parse_body, bytes(body), self.settings.max_json_depth)

    async def admit(self, request: Request, key: str, schema: type[Body]) -> Body:
        """The validated body of an authorized request (`key` from `authorize`)."""
        wait = self.limiter.acquire(self.client(request, key))
        if wait:
            raise ApiError(
                429,
                "rate limit reached, retry later",
                code="rate_limit_exceeded",
                headers=retry_after_header(wait),
            )
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
