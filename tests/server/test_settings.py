from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.server.settings import ServerSettings, default_threads, load_api_keys

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
    assert settings.threads == default_threads() >= 1
    assert settings.max_batch is None  # measured at start-up (server/engine/batch_tuning.py)
    assert not settings.api_keys and not settings.log_user_text
    with pytest.raises(ValueError):
        ServerSettings(model_dir=tmp_path, max_batch=0)


@pytest.mark.parametrize("value", [" , ", ",", "   "])
def test_a_key_variable_without_a_key_refuses_to_start(value: str) -> None:
    with pytest.raises(ValueError, match="holds no key"):
        load_api_keys(value, None)
    assert load_api_keys("", None) == frozenset()  # unset or empty: the operator chose no auth


def test_every_tunable_limit_is_a_serve_option_and_in_the_readme(
    repo: Path, tmp_path: Path
) -> None:
    import argparse

    from persian_chat.server.http.serve import OPTION_NAMES, add_arguments, settings_from_args
    from persian_chat.server.settings import TUNABLE

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    readme = (repo / "README.md").read_text(encoding="utf-8")
    for name in TUNABLE:
        option = "--" + OPTION_NAMES.get(name, name.replace("_", "-"))
        default = ServerSettings.model_fields[name].default
        assert getattr(parser.parse_args([]), name) == default
        assert f"`{option}`" in readme, option
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    args = parser.parse_args(
        ["--max-json-depth", "7", "--shutdown-grace", "2.5", "--model", str(tmp_path)]
    )
    settings = settings_from_args(args)
    assert settings.max_json_depth == 7 and settings.shutdown_grace_seconds == 2.5


def test_the_cgroup_quota_limits_the_default_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persian_chat.server import settings as settings_module

    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert settings_module.cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert settings_module.cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu/cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu/cpu.cfs_period_us").write_text("100000\n")
    assert settings_module.cgroup_cpu_quota(tmp_path) == 3.0
    monkeypatch.setattr(settings_module, "cgroup_cpu_quota", lambda: 1.5)
    assert settings_module.default_threads() == 1  # a 1.5-CPU container gets one thread


ADMIN = "admin-key-0123456789abcdef"


def test_the_admin_key_comes_from_the_variable_or_a_file(tmp_path: Path) -> None:
    from persian_chat.server.settings import TUNABLE, load_admin_key

    file = tmp_path / "admin-key"
    file.write_text(f"# the admin key\n\n  {ADMIN}  \nsecond-line-is-ignored\n", encoding="utf-8")
    assert load_admin_key(None, file) == ADMIN == load_admin_key(f" {ADMIN} ", None)
    assert load_admin_key(None, None) is None and load_admin_key("", None) is None
    settings = ServerSettings(model_dir=tmp_path, admin_key=ADMIN)
    assert ADMIN not in repr(settings) and "admin_key" not in TUNABLE


@pytest.mark.parametrize(
    ("variable", "content", "message"),
    [
        ("  ", None, "holds no key"),
        (None, "", "no admin key"),
        (None, "# only\n", "no admin key"),
        ("short", None, "16 characters"),
        (None, "short\n", "16 characters"),
        (ADMIN, f"{ADMIN}\n", "not both"),
        (None, "MISSING", "cannot read"),
    ],
)
def test_an_admin_key_setting_without_a_usable_key_refuses_to_start(
    tmp_path: Path, variable: str | None, content: str | None, message: str
) -> None:
    """content None: no file given; "MISSING": a file that does not exist."""
    from persian_chat.server.settings import load_admin_key

    file = tmp_path / "admin-key"
    if content not in (None, "MISSING"):
        file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_admin_key(variable, None if content is None else file)


def test_serve_reads_the_admin_key_and_refuses_one_that_is_an_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from persian_chat.errors import UserError
    from persian_chat.server.http.serve import (
        add_arguments,
        environment_variables,
        settings_from_args,
    )

    assert {"PERSIAN_CHAT_ADMIN_KEY", "PERSIAN_CHAT_ADMIN_KEY_FILE"} <= environment_variables()
    assert "PERSIAN_CHAT_SWITCH_GRACE_SECONDS" in environment_variables()
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    key_file = tmp_path / "admin-key"
    key_file.write_text(ADMIN + "\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    model = ["--model", str(tmp_path)]
    assert settings_from_args(parser.parse_args(model)).admin_key is None
    args = parser.parse_args([*model, "--admin-key-file", str(key_file)])
    assert settings_from_args(args).admin_key == ADMIN
    monkeypatch.setenv("PERSIAN_CHAT_ADMIN_KEY", "other-admin-key-0123456789")
    assert settings_from_args(parser.parse_args(model)).admin_key == "other-admin-key-0123456789"
    monkeypatch.setenv("PERSIAN_CHAT_API_KEYS", "other-admin-key-0123456789")
    with pytest.raises(UserError, match="must not also be an API key"):
        settings_from_args(parser.parse_args(model))
