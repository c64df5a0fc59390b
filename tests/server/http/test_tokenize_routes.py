from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from persian_chat.server.http.app import create_app
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import prompt_ids

HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


@pytest.fixture(scope="module")
def client(tiny_served_dir: Path) -> Iterator[TestClient]:
    settings = ServerSettings(model_dir=tiny_served_dir, threads=1, rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield client


def runtime(client: TestClient) -> Runtime:
    state = client.app.state.app_state  # type: ignore[attr-defined]
    assert state.runtime is not None
    return state.runtime  # type: ignore[no-any-return]


def test_messages_count_exactly_the_prompt_a_chat_request_builds(client: TestClient) -> None:
    reply = client.post("/tokenize", json={"messages": HELLO})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    chat = client.post("/api/chat", json={"messages": HELLO, "stream": False, "max_tokens": 2})
    assert body["count"] == len(body["tokens"]) == chat.json()["usage"]["prompt_tokens"]
    model, normalize = runtime(client).model, runtime(client).normalize
    assert body["max_model_len"] == model.context_length
    without = client.post("/tokenize", json={"messages": HELLO, "add_generation_prompt": False})
    system = [{"role": "system", "content": model.system_prompt}] if model.system_prompt else []
    messages = [*system, *({**m, "content": normalize(m["content"])} for m in HELLO)]
    assert without.json()["tokens"] == prompt_ids(model, messages, add_generation_prompt=False)  # type: ignore[arg-type]
    assert without.json()["count"] < body["count"]


def test_a_prompt_round_trips_through_detokenize(client: TestClient) -> None:
    text = "کتاب‌ها روی میز هستند."
    tokens = client.post("/tokenize", json={"prompt": text}).json()["tokens"]
    assert tokens and client.post("/detokenize", json={"tokens": tokens}).json() == {"prompt": text}


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("/tokenize", {}, "prompt"),
        ("/tokenize", {"prompt": "a", "messages": HELLO}, "prompt"),
        ("/tokenize", {"prompt": 5}, "prompt"),
        ("/tokenize", {"prompt": "a", "model": "other"}, "model"),
        (
            "/tokenize",
            {"messages": [{"role": "user", "content": "ا" * 8001}]},
            "messages.0.content",
        ),
        ("/detokenize", {"tokens": [1, -1]}, "tokens.1"),
        ("/detokenize", {"tokens": [1, 10**9]}, "tokens.1"),
        ("/detokenize", {"tokens": "1 2"}, "tokens"),
    ],
)
def test_bad_bodies_are_4xx_naming_the_field(
    client: TestClient, route: str, body: dict[str, object], param: str
) -> None:
    reply = client.post(route, json=body)
    assert reply.status_code in (400, 404), reply.text
    assert reply.json()["error"]["param"] == param


def test_tokenize_needs_the_api_key_when_keys_are_set(tiny_served_dir: Path) -> None:
    key = "tokenize-key-0123456789"
    settings = ServerSettings(model_dir=tiny_served_dir, threads=1, api_keys=frozenset({key}))
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post("/tokenize", json={"prompt": "سلام"}).status_code == 401
        authorized = {"authorization": f"Bearer {key}"}
        reply = client.post("/tokenize", json={"prompt": "سلام"}, headers=authorized)
        assert reply.status_code == 200
        assert 'route="/tokenize",status="401"' in client.get("/metrics").text
