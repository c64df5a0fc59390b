"""Serving a version from the studio (added beside the server's models): the server's
answer, or a Persian reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from persian_chat.studio import serving
from persian_chat.studio.serving import SwitchError, add_model, served_models


def answer(status: int, body: dict[str, Any]) -> Any:
    def post(url: str, **kwargs: Any) -> httpx.Response:
        answer.sent = (url, kwargs)  # type: ignore[attr-defined]
        return httpx.Response(status, json=body, request=httpx.Request("POST", url))

    return post


def test_add_sends_the_absolute_directory_with_the_admin_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(serving.httpx, "post", answer(200, {"model": "v2", "models": ["v2"]}))
    assert add_model("http://s:8000/", "k" * 20, tmp_path / "v2")["model"] == "v2"
    url, kwargs = answer.sent  # type: ignore[attr-defined]
    assert url == "http://s:8000/admin/models"
    assert kwargs["json"] == {"model_dir": str((tmp_path / "v2").resolve())}
    assert kwargs["headers"] == {"Authorization": f"Bearer {'k' * 20}"}


def test_a_refusal_says_why_in_persian(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    error = {"error": {"message": "no admin key is configured", "code": "admin_disabled"}}
    monkeypatch.setattr(serving.httpx, "post", answer(403, error))
    with pytest.raises(SwitchError, match="کلید مدیر یکسان") as caught:
        add_model("http://s:8000", "", tmp_path)
    assert "403" in str(caught.value) and "no admin key" in str(caught.value)

    def down(url: str, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(serving.httpx, "post", down)
    with pytest.raises(SwitchError, match="در دسترس نیست"):
        add_model("http://s:8000", "", tmp_path)
    monkeypatch.setattr(serving.httpx, "get", down)
    assert served_models("http://s:8000") == []


def test_add_serves_the_version_beside_the_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    exists = {"error": {"message": "served already", "code": "model_exists"}}
    monkeypatch.setattr(serving.httpx, "post", answer(409, exists))
    assert add_model("http://s:8000", "k" * 20, tmp_path / "v2") == {"model": "v2"}
    busy = {"error": {"message": "a switch is loading", "code": "switch_in_progress"}}
    monkeypatch.setattr(serving.httpx, "post", answer(409, busy))
    with pytest.raises(SwitchError, match="409"):
        add_model("http://s:8000", "k" * 20, tmp_path / "v2")


def test_the_served_models_come_from_health(monkeypatch: pytest.MonkeyPatch) -> None:
    def health(body: dict[str, Any]) -> Any:
        def get(url: str, **kwargs: Any) -> httpx.Response:
            return httpx.Response(200, json=body, request=httpx.Request("GET", url))

        return get

    monkeypatch.setattr(serving.httpx, "get", health({"model": "a", "models": ["a", "v2"]}))
    assert served_models("http://s:8000") == ["a", "v2"]
    monkeypatch.setattr(serving.httpx, "get", health({"model": "a"}))  # an older server
    assert served_models("http://s:8000") == ["a"]
