"""Serve a model version on the running `persian-chat serve`, through its authenticated
admin endpoint: added beside the models it serves (POST /admin/models), it loads on its first
request and is chosen by the request's `model` (the chat's model picker). Replacing the
server's first model in place stays an admin call (POST /admin/model), not a studio one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

SWITCH_TIMEOUT_S = 300.0  # loading a model takes seconds; a big one on a slow disk longer


class SwitchError(RuntimeError):
    """The server refused or could not be reached; the message is for the page."""


def add_model(api_url: str, admin_key: str, served_dir: Path) -> dict[str, Any]:
    """Serve `served_dir` beside the server's models (already served: nothing to do)."""
    return _admin_post(api_url, admin_key, "/admin/models", served_dir)


def _admin_post(api_url: str, admin_key: str, route: str, served_dir: Path) -> dict[str, Any]:
    try:
        response = httpx.post(
            f"{api_url.rstrip('/')}{route}",
            json={"model_dir": str(served_dir.resolve())},
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=SWITCH_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise SwitchError(f"سرور در {api_url} در دسترس نیست: {exc}") from None
    if response.status_code == 409 and _code(response) == "model_exists":
        return {"model": served_dir.name}
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


def _code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def served_models(api_url: str) -> list[str]:
    """Every model the server answers with, the first first (empty: not reachable)."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=1.0)
        if response.status_code != 200:
            return []
        body = response.json()
        return [str(m) for m in body.get("models") or [body["model"]]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return []
