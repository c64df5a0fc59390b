"""Talk to persian-chat's /api/chat from the UI's backend: stream SSE events with httpx and
turn every failure into one Persian sentence a user understands (and the cause, for logs).

Streams are resumable: a connection that drops mid-answer (a flaky network, a proxy restart)
is reopened with `Last-Event-ID` and the answer continues where it stopped, so the user sees
the whole answer, not an error.

Pure Python (no Reflex), so it is tested against a real server on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # between two events; a long prefill on a busy server can take a while
RESUME_ATTEMPTS = 5  # reconnections per answer (the server waits 10 s by default)
RESUME_DELAY_S = 0.5
BROKEN = "ارتباط با سرور وسط پاسخ قطع شد."


@dataclass(frozen=True)
class ChatSettings:
    endpoint: str
    api_key: str
    system_prompt: str
    temperature: float
    max_tokens: int
    model: str = ""  # one of the server's models (GET /v1/models); empty: its first


class ChatError(Exception):
    """A request that failed; `message_fa` is for the user, `cause` for the developer."""

    def __init__(self, kind: str, message_fa: str, cause: str) -> None:
        super().__init__(cause)
        self.kind = kind
        self.message_fa = message_fa
        self.cause = cause


def _server_error(body: bytes) -> dict[str, Any]:
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def failure_for_status(status: int, body: bytes) -> ChatError:
    error = _server_error(body)
    detail = str(error.get("message") or body[:200].decode("utf-8", "replace"))
    if status == 401:
        return ChatError(
            "auth", "کلید API نادرست است یا وارد نشده است. آن را در تنظیمات بررسی کنید.", detail
        )
    if status == 429:
        return ChatError("busy", "سرور الان شلوغ است؛ چند لحظهٔ دیگر دوباره بفرستید.", detail)
    if status == 503:
        return ChatError("unavailable", "مدل هنوز آماده نیست یا سرور در حال خاموش شدن است.", detail)
    if 400 <= status < 500:
        field = error.get("param")
        where = f" (فیلد «{field}»)" if field else ""
        return ChatError("invalid", f"سرور درخواست را نپذیرفت{where}: {detail}", detail)
    return ChatError("server", f"خطای سرور ({status}). دوباره تلاش کنید.", detail)


def chat_payload(history: list[dict[str, str]], settings: ChatSettings) -> dict[str, Any]:
    messages = [{"role": m["role"], "content": m["content"]} for m in history]
    if settings.system_prompt.strip():
        messages.insert(0, {"role": "system", "content": settings.system_prompt.strip()})
    payload: dict[str, Any] = {
        "messages": messages,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "stream": True,
        "resumable": True,
    }
    if settings.model:
        payload["model"] = settings.model
    return payload


async def list_models(endpoint: str, api_key: str) -> list[str]:
    """The models the server answers with (GET /v1/models, the first first); empty when it
    cannot say (not reachable, a wrong key): the picker then offers the server's default."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=CONNECT_TIMEOUT_S) as client:
            response = await client.get(f"{endpoint.rstrip('/')}/v1/models", headers=headers)
        if response.status_code != 200:
            return []
        return [str(entry["id"]) for entry in response.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []


class _Connection:
    """One HTTP stream's SSE parsing: an event counts as received (and its id as the last
    one) only when its blank line arrives, as the SSE specification dispatches."""

    def __init__(self) -> None:
        self.last_id: str | None = None

    async def events(self, response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
        pending_id, data = None, None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                pending_id = line[len("id: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "" and data is not None:
                event = json.loads(data)
                if pending_id is not None:
                    self.last_id = pending_id
                pending_id, data = None, None
                yield event


async def _one_connection(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    connection: _Connection,
) -> AsyncGenerator[dict[str, Any], None]:
    """The events of one HTTP stream, resuming after `connection.last_id` if set."""
    resume = {"Last-Event-ID": connection.last_id} if connection.last_id else {}
    async with client.stream("POST", url, json=payload, headers={**headers, **resume}) as reply:
        if reply.status_code != 200:
            raise failure_for_status(reply.status_code, await reply.aread())
        async for event in connection.events(reply):
            if "error" in event:
                detail = str(event["error"].get("message", "error"))
                raise ChatError("broken", "پاسخ نیمه‌کاره قطع شد: " + detail, detail)
            yield event


async def stream_chat(
    history: list[dict[str, str]], settings: ChatSettings, client_address: str = ""
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield the server's events ({"token"} ... {"done"}); raise ChatError on any failure.
    A dropped connection is resumed; closing the iterator early cancels the answer on the
    server (DELETE /api/chat/{id}), which stops generation. `client_address` (the browser's)
    goes in X-Forwarded-For as a proxy sends it: a server that trusts this back end then
    limits each user by their own address, not all users by the back end's."""
    base = settings.endpoint.rstrip("/")
    headers = {"Accept": "text/event-stream"}
    if client_address:
        headers["X-Forwarded-For"] = client_address
    if settings.api_key.strip():
        headers["Authorization"] = f"Bearer {settings.api_key.strip()}"
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    payload = chat_payload(history, settings)
    connection = _Connection()
    done = False
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                for attempt in range(RESUME_ATTEMPTS + 1):
                    try:
                        async for event in _one_connection(
                            client, base + "/api/chat", payload, headers, connection
                        ):
                            done = bool(event.get("done"))
                            yield event
                            if done:
                                return
                    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
                        if connection.last_id is None or attempt == RESUME_ATTEMPTS:
                            raise ChatError("broken", BROKEN, str(exc)) from None
                    if connection.last_id is None:
                        break  # ended without done and nothing to resume from
                    await asyncio.sleep(RESUME_DELAY_S)
            finally:
                if not done and connection.last_id:  # left early: stop the answer now
                    request_id = connection.last_id.rpartition(":")[0]
                    with contextlib.suppress(httpx.HTTPError):
                        await client.delete(f"{base}/api/chat/{request_id}", headers=headers)
    except httpx.InvalidURL as exc:
        raise ChatError(
            "unreachable", "نشانی سرور نامعتبر است. آن را در تنظیمات درست کنید.", str(exc)
        ) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise ChatError(
            "unreachable", "سرور در دسترس نیست. نشانی سرور را در تنظیمات بررسی کنید.", str(exc)
        ) from None
    if not done:
        raise ChatError("broken", BROKEN, "stream ended without done")
