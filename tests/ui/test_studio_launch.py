"""`persian-chat studio`: settings from its options; beyond loopback an admin key."""

from __future__ import annotations

from pathlib import Path

import pytest
from persian_chat_ui.studio_launch import settings_from_args

from persian_chat.cli import build_parser
from persian_chat.errors import UserError


def parse(*argv: str) -> object:
    return build_parser().parse_args(["studio", *argv])


def test_loopback_needs_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PERSIAN_CHAT_ADMIN_KEY", raising=False)
    settings = settings_from_args(parse("--home", str(tmp_path)))  # type: ignore[arg-type]
    assert settings.host == "127.0.0.1" and not settings.needs_key
    assert settings.url == f"sqlite:///{(tmp_path / 'studio.db').resolve()}"
    environment = settings.environment()
    assert environment["PERSIAN_CHAT_STUDIO_HOME"] == str(tmp_path.resolve())


def test_beyond_loopback_the_admin_key_is_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PERSIAN_CHAT_ADMIN_KEY", raising=False)
    with pytest.raises(UserError, match="admin key"):
        settings_from_args(parse("--host", "0.0.0.0"))  # type: ignore[arg-type]
    key_file = tmp_path / "admin.key"
    key_file.write_text("short\n")
    with pytest.raises(UserError, match="16"):
        settings_from_args(parse("--host", "0.0.0.0", "--admin-key-file", str(key_file)))  # type: ignore[arg-type]
    key_file.write_text("a-long-enough-admin-key\n")
    settings = settings_from_args(
        parse("--host", "0.0.0.0", "--admin-key-file", str(key_file))  # type: ignore[arg-type]
    )
    assert settings.needs_key and settings.admin_key == "a-long-enough-admin-key"
    monkeypatch.setenv("PERSIAN_CHAT_ADMIN_KEY", "from-the-environment-key")
    assert settings_from_args(parse("--host", "0.0.0.0")).admin_key == "from-the-environment-key"  # type: ignore[arg-type]


def test_the_studio_starts_in_the_project_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="persian-chat folder"):
        settings_from_args(parse())  # type: ignore[arg-type]
