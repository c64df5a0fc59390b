"""Switch the running `persian-chat serve` to a model version, through its authenticated
admin endpoint (the server loads the directory, checks its manifest and swaps it in between
steps; answers in flight finish on the old model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

SWITCH_TIMEOUT_S = 300.0  # loading a model takes seconds; a big one on a slow disk longer


class SwitchError(RuntimeError):
    """The server refused or could not be reached; the message is for the page."""


def switch_model(api_url: str, admin_key: str, served_dir: Path) -> dict[str, Any]:
    try:
        response = httpx.post(
            f"{api_url.rstrip('/')}/admin/model",
            json={"model_dir": str(served_dir.resolve())},
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=SWITCH_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise SwitchError(f"سرور در {api_url} در دسترس نیست: {exc}") from None
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        hint = (
            " — سرور و استودیو باید کلید مدیر یکسانی داشته باشند (PERSIAN_CHAT_ADMIN_KEY)"
            if response.status_code in (401, 403)
            else ""
        )
        raise SwitchError(f"سرور مدل را نپذیرفت ({response.status_code}): {message}{hint}")
    data: dict[str, Any] = response.json()
    return data


def served_model_id(api_url: str) -> str | None:
    """The model the server answers with now (its /health, which needs no API key)."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=1.0)
        return str(response.json()["model"]) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None
