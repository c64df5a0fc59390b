from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.server.settings import ServerSettings, load_api_keys, physical_cores

LONG = "k" * 20


def test_keys_from_environment_and_file(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text(f"# operators\n{LONG}1\n\n{LONG}2\n", encoding="utf-8")
    assert load_api_keys(f" {LONG}3 ,{LONG}4", file) == {f"{LONG}{i}" for i in range(1, 5)}
    assert load_api_keys(None, None) == frozenset()


@pytest.mark.parametrize("content", [None, "", "# only a comment\n"])
def test_a_named_key_file_that_gives_no_key_fails_closed(
    tmp_path: Path, content: str | None
) -> None:
    file = tmp_path / "keys"
    if content is not None:
        file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=str(file)):
        load_api_keys(None, file)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        load_api_keys("short", None)


def test_defaults_fit_a_small_vps(tmp_path: Path) -> None:
    settings = ServerSettings(model_dir=tmp_path)
    assert settings.threads == physical_cores() >= 1
    assert settings.max_batch == 8 and not settings.api_keys and not settings.log_user_text
    with pytest.raises(ValueError):
        ServerSettings(model_dir=tmp_path, max_batch=0)
