from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from persian_chat_ui.api_client import (
    ChatError,
    ChatSettings,
    chat_payload,
    failure_for_status,
    list_models,
    stream_chat,
)

from ..server.live_server import LiveServer, start_in_process, start_server

KEY = "client-test-key-0123456789"
HISTORY = [{"role": "user", "content": "سلام"}]


@pytest.fixture(scope="module")
def server(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tiny_served_dir,
        tmp_path_factory.mktemp("client") / "server.log",
        {"PERSIAN_CHAT_API_KEYS": KEY},
    )
    yield live
    live.stop()


def settings(endpoint: str, key: str = KEY, **overrides: Any) -> ChatSettings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "api_key": key,
        "system_prompt": "",
        "temperature": 0.0,
        "max_tokens": 12,
        **overrides,
    }
    return ChatSettings(**values)


def collect(chat_settings: ChatSettings) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        return [event async for event in stream_chat(HISTORY, chat_settings)]

    return asyncio.run(main())


def failure(chat_settings: ChatSettings) -> ChatError:
    with pytest.raises(ChatError) as caught:
        collect(chat_settings)
    return caught.value


def test_streams_tokens_then_done(server: LiveServer) -> None:
    events = collect(settings(server.url))
    assert events[-1]["done"] is True and all("token" in e for e in events[:-1])
    assert events[-1]["usage"]["completion_tokens"] <= 12


def test_the_picker_lists_the_server_s_models_and_sends_the_chosen_one(
    server: LiveServer,
) -> None:
    names = asyncio.run(list_models(server.url, KEY))
    assert names and names == [Path(n).name for n in names]  # ids, the first model first
    assert asyncio.run(list_models(server.url, "wrong-key")) == []  # cannot say: none
    assert asyncio.run(list_models("http://127.0.0.1:9", KEY)) == []  # not reachable
    chosen = chat_payload(HISTORY, settings(server.url, model=names[0]))
    assert chosen["model"] == names[0]
    assert "model" not in chat_payload(HISTORY, settings(server.url))  # the server's first
    events = collect(settings(server.url, model=names[0]))
    assert events[-1].get("done") is True
    with pytest.raises(ChatError):
        collect(settings(server.url, model="no-such-model"))


def test_system_prompt_goes_first_only_when_set() -> None:
    assert chat_payload(HISTORY, settings("x"))["messages"] == HISTORY
    payload = chat_payload(HISTORY, settings("x", system_prompt=" کوتاه "))
    assert payload["messages"][0] == {"role": "system", "content": "کوتاه"}


def test_failures_become_persian_messages(server: LiveServer) -> None:
    assert failure(settings(server.url, key="wrong-key-0123456789")).kind == "auth"
    invalid = failure(settings(server.url, temperature=7.0))
    assert invalid.kind == "invalid" and "temperature" in invalid.message_fa
    down = failure(settings("http://127.0.0.1:9"))
    assert down.kind == "unreachable" and "سرور در دسترس نیست" in down.message_fa
    assert failure(settings("not a url")).kind == "unreachable"


def test_status_codes_map_to_persian_causes() -> None:
    busy = failure_for_status(429, b'{"error": {"message": "the server is busy"}}')
    assert busy.kind == "busy" and "شلوغ" in busy.message_fa and busy.cause == "the server is busy"
    assert failure_for_status(503, b"").kind == "unavailable"
    assert failure_for_status(500, b"oops").kind == "server"
    invalid = failure_for_status(400, b'{"error": {"message": "m", "param": "max_tokens"}}')
    assert "«max_tokens»" in invalid.message_fa


def test_a_stream_broken_mid_answer_is_reported(tiny_served_dir: Path) -> None:
    server = start_in_process(tiny_served_dir, 0.02, rate_limit_per_minute=0)
    try:

        async def main() -> tuple[int, ChatError | None]:
            received = 0
            try:
                async for event in stream_chat(HISTORY, settings(server.url, max_tokens=400)):
                    received += "token" in event
                    if received == 3:
                        server.runtime.engine.shutdown(0)
            except ChatError as exc:
                return received, exc
            return received, None

        received, error = asyncio.run(main())
    finally:
        server.stop()
    assert received >= 3 and error is not None
    assert error.kind == "broken" and "قطع شد" in error.message_fa


def test_the_users_address_is_forwarded_to_a_server_that_trusts_the_ui(
    tiny_served_dir: Path,
) -> None:
    """Every UI user comes from the UI's back end: with its users' addresses forwarded, one
    user's wrong keys slow that user down, not everyone behind the same back end."""
    live = start_in_process(
        tiny_served_dir,
        api_keys=frozenset({KEY}),
        auth_failures_per_minute=3,
        trusted_proxies=("127.0.0.1",),
    )

    def kind(address: str, key: str = "wrong-key-0123456789") -> str:
        async def main() -> str:
            with pytest.raises(ChatError) as caught:
                async for _ in stream_chat(
                    HISTORY, settings(live.url, key=key), client_address=address
                ):
                    pass
            return caught.value.kind

        return asyncio.run(main())

    try:
        assert [kind("198.51.100.1") for _ in range(4)] == ["auth", "auth", "auth", "busy"]
        # another user of the same back end, with a wrong key of their own
        assert kind("198.51.100.2", key="typo-key-0123456789") == "auth"
    finally:
        live.stop()
