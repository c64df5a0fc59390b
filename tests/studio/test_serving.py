"""Switching the served model from the studio: the server's answer, or a Persian reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from persian_chat.studio import serving
from persian_chat.studio.serving import SwitchError, served_model_id, switch_model


def answer(status: int, body: dict[str, Any]) -> Any:
    def post(url: str, **kwargs: Any) -> httpx.Response:
        answer.sent = (url, kwargs)  # type: ignore[attr-defined]
        return httpx.Response(status, json=body, request=httpx.Request("POST", url))

    return post


def test_switch_sends_the_absolute_directory_with_the_admin_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(serving.httpx, "post", answer(200, {"model": "v2", "previous": "v1"}))
    assert switch_model("http://s:8000/", "k" * 20, tmp_path / "v2")["model"] == "v2"
    url, kwargs = answer.sent  # type: ignore[attr-defined]
    assert url == "http://s:8000/admin/model"
    assert kwargs["json"] == {"model_dir": str((tmp_path / "v2").resolve())}
    assert kwargs["headers"] == {"Authorization": f"Bearer {'k' * 20}"}


def test_a_refusal_says_why_in_persian(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    error = {"error": {"message": "no admin key is configured", "code": "admin_disabled"}}
    monkeypatch.setattr(serving.httpx, "post", answer(403, error))
    with pytest.raises(SwitchError, match="کلید مدیر یکسان") as caught:
        switch_model("http://s:8000", "", tmp_path)
    assert "403" in str(caught.value) and "no admin key" in str(caught.value)

    def down(url: str, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(serving.httpx, "post", down)
    with pytest.raises(SwitchError, match="در دسترس نیست"):
        switch_model("http://s:8000", "", tmp_path)
    monkeypatch.setattr(serving.httpx, "get", down)
    assert served_model_id("http://s:8000") is None
