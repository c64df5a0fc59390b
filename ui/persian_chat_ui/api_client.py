"""Talk to persian-chat's /api/chat from the UI's backend: stream SSE events with httpx and
turn every failure into one Persian sentence a user understands (and the cause, for logs).

Pure Python (no Reflex), so it is tested against a real server on its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # between two events; a long prefill on a busy server can take a while


@dataclass(frozen=True)
class ChatSettings:
    endpoint: str
    api_key: str
    system_prompt: str
    temperature: float
    max_tokens: int


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
    return {
        "messages": messages,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "stream": True,
    }


async def stream_chat(
    history: list[dict[str, str]], settings: ChatSettings
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield the server's events ({"token"} ... {"done"}); raise ChatError on any failure.
    Closing the iterator early closes the connection, which stops generation on the server."""
    url = settings.endpoint.rstrip("/") + "/api/chat"
    headers = {"Accept": "text/event-stream"}
    if settings.api_key.strip():
        headers["Authorization"] = f"Bearer {settings.api_key.strip()}"
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    done = False
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream(
                "POST", url, json=chat_payload(history, settings), headers=headers
            ) as response,
        ):
            if response.status_code != 200:
                raise failure_for_status(response.status_code, await response.aread())
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[len("data: ") :])
                if "error" in event:
                    detail = str(event["error"].get("message", "error"))
                    raise ChatError("broken", "پاسخ نیمه‌کاره قطع شد: " + detail, detail)
                done = bool(event.get("done"))
                yield event
    except httpx.InvalidURL as exc:
        raise ChatError(
            "unreachable", "نشانی سرور نامعتبر است. آن را در تنظیمات درست کنید.", str(exc)
        ) from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise ChatError(
            "unreachable", "سرور در دسترس نیست. نشانی سرور را در تنظیمات بررسی کنید.", str(exc)
        ) from None
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
        raise ChatError("broken", "ارتباط با سرور وسط پاسخ قطع شد.", str(exc)) from None
    if not done:
        raise ChatError("broken", "ارتباط با سرور وسط پاسخ قطع شد.", "stream ended without done")
