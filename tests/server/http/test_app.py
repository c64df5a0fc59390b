from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from persian_chat.server.http.app import create_app
from persian_chat.server.http.runtime import Runtime, load_runtime
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import prompt_ids
from tests.server.live_server import wait_ready

KEY = "test-key-0123456789abcdef"
HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


@pytest.fixture(scope="module")
def shared_client(tiny_served_dir: Path) -> Iterator[TestClient]:
    settings = ServerSettings(model_dir=tiny_served_dir, threads=1, rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def client(shared_client: TestClient) -> TestClient:
    return shared_client


def events(text: str) -> list[Any]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def chat(client: TestClient, **body: Any) -> Any:
    return client.post("/api/chat", json={"messages": HELLO, **body})


def test_health_is_503_while_loading_then_200(tiny_served_dir: Path) -> None:
    release = threading.Event()

    def slow_loader(settings: ServerSettings) -> Runtime:
        release.wait(30)
        return load_runtime(settings)

    app = create_app(ServerSettings(model_dir=tiny_served_dir, threads=1), slow_loader)
    with TestClient(app) as client:
        loading = client.get("/health")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        assert chat(client).status_code == 503
        release.set()
        wait_ready(client)
        assert client.get("/health").json()["model"] == tiny_served_dir.name


def test_failed_load_is_reported(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with TestClient(create_app(ServerSettings(model_dir=tmp_path, threads=1))) as client:
        deadline = time.monotonic() + 10
        while client.get("/health").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "failed"
        assert "format" in health.json()["error"]


def test_stream_and_non_stream_give_the_same_greedy_text(client: TestClient) -> None:
    streamed = chat(client, temperature=0, max_tokens=20)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-accel-buffering"] == "no"
    received = events(streamed.text)
    tokens = [e["token"] for e in received[:-1]]
    final = received[-1]
    assert final["done"] is True and final["finish_reason"] in ("stop", "length")
    assert final["usage"]["completion_tokens"] <= 20 and final["timings"]["total_s"] > 0
    whole = chat(client, temperature=0, max_tokens=20, stream=False).json()
    assert whole["message"] == {"role": "assistant", "content": "".join(tokens)}
    assert whole["usage"] == final["usage"]


def test_the_persian_system_prompt_is_added_when_missing(
    client: TestClient, tiny_served_dir: Path
) -> None:
    runtime: Runtime = client.app.state.app_state.runtime  # type: ignore[attr-defined]
    model = runtime.model
    assert model.system_prompt
    with_system = [{"role": "system", "content": model.system_prompt}, *HELLO]
    expected = len(prompt_ids(model, with_system))  # type: ignore[arg-type]
    usage = chat(client, stream=False, max_tokens=1).json()["usage"]
    assert usage["prompt_tokens"] == expected
    own = [{"role": "system", "content": "کوتاه"}, *HELLO]
    usage = client.post("/api/chat", json={"messages": own, "stream": False, "max_tokens": 1})
    assert usage.json()["usage"]["prompt_tokens"] < expected


def test_user_text_is_normalized_like_the_training_data(client: TestClient) -> None:
    arabic = [{"role": "user", "content": "سلام، حالت چطور است؟".replace("ی", "ي")}]
    a = client.post(
        "/api/chat", json={"messages": arabic, "stream": False, "temperature": 0, "max_tokens": 8}
    ).json()
    b = chat(client, stream=False, temperature=0, max_tokens=8).json()
    assert a["message"] == b["message"] and a["usage"] == b["usage"]


def test_seed_reproduces_sampled_text(client: TestClient) -> None:
    def sample(seed: int) -> str:
        body = chat(client, stream=False, temperature=1.0, seed=seed, max_tokens=16).json()
        return str(body["message"]["content"])

    assert sample(11) == sample(11)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"messages": []}, 400, "messages"),
        ({}, 400, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages.0.role"),
        ({"messages": [{"role": "user"}]}, 400, "messages.0.content"),
        ({"messages": HELLO, "temperature": 3}, 400, "temperature"),
        ({"messages": HELLO, "temperature": "hot"}, 400, "temperature"),
        ({"messages": HELLO, "top_p": 0}, 400, "top_p"),
        ({"messages": HELLO, "top_k": -1}, 400, "top_k"),
        ({"messages": HELLO, "seed": -5}, 400, "seed"),
        ({"messages": HELLO, "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": HELLO, "max_tokens": 5000}, 400, "max_tokens"),
        ({"messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ({"messages": HELLO, "stop": [""]}, 400, "stop"),
        ({"messages": HELLO, "stream": "yes"}, 400, "stream"),
        ({"messages": HELLO, "temprature": 0.2}, 400, "temprature"),
        ({"messages": HELLO * 65}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "ب" * 8001}]}, 400, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "ب" * 7000}] * 5}, 400, "messages"),
        ({"messages": [*HELLO, {"role": "assistant", "content": "x"}]}, 400, "messages"),
        ({"messages": [*HELLO, {"role": "system", "content": "x"}, *HELLO]}, 400, "messages"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient, body: dict[str, Any], status: int, param: str
) -> None:
    response = client.post("/api/chat", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["message"]


def test_body_json_size_and_routes(make_client: Any) -> None:
    client = make_client(max_body_bytes=2048)
    bad = client.post(
        "/api/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    assert client.post("/api/chat", json=[1, 2]).status_code == 400
    big = client.post("/api/chat", json={"messages": [{"role": "user", "content": "x" * 5000}]})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    json_type = {"content-type": "application/json"}
    assert client.post("/api/chat", content=chunks(), headers=json_type).status_code == 413
    assert client.get("/nope").json()["error"]["code"] == "not_found"
    assert client.get("/api/chat").status_code == 405


def test_context_overflow_drops_old_turns_then_refuses(make_client: Any) -> None:
    client = make_client(max_prompt_tokens=120)
    long_turn = "این یک جملهٔ نسبتاً بلند برای پر کردن تاریخچهٔ گفتگو است. " * 3
    history = []
    for _ in range(4):
        history += [
            {"role": "user", "content": long_turn},
            {"role": "assistant", "content": "باشه"},
        ]
    body = {"messages": [*history, *HELLO], "stream": False, "max_tokens": 4}
    answer = client.post("/api/chat", json=body)
    assert answer.status_code == 200 and answer.json()["usage"]["prompt_tokens"] <= 120
    huge = {"messages": [{"role": "user", "content": long_turn * 8}], "max_tokens": 4}
    refused = client.post("/api/chat", json=huge)
    assert refused.status_code == 400
    assert refused.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }


def test_api_keys_guard_the_api_but_not_health_or_metrics(make_client: Any) -> None:
    client = make_client(api_keys=frozenset({KEY}))
    for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": KEY}):
        refused = client.post("/api/chat", json={"messages": HELLO}, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        assert client.get("/v1/models", headers=headers).status_code == 401
    good = {"Authorization": f"Bearer {KEY}"}
    ok = client.post("/api/chat", json={"messages": HELLO, "max_tokens": 2}, headers=good)
    assert ok.status_code == 200
    assert client.get("/v1/models", headers=good).json()["data"][0]["object"] == "model"
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_rate_limit_answers_429_with_retry_after(make_client: Any) -> None:
    client = make_client(rate_limit_per_minute=2)
    body = {"messages": HELLO, "max_tokens": 1, "stream": False}
    assert [client.post("/api/chat", json=body).status_code for _ in range(2)] == [200, 200]
    limited = client.post("/api/chat", json=body)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"


def test_full_queue_answers_429(make_client: Any) -> None:
    client = make_client(max_batch=1, max_waiting=0)
    runtime: Runtime = client.app.state.app_state.runtime  # type: ignore[attr-defined]
    gate = threading.Event()
    original = runtime.engine.decoder.step

    def held_step(*args: Any, **kwargs: Any) -> Any:
        gate.wait(30)
        return original(*args, **kwargs)

    runtime.engine.decoder.step = held_step  # type: ignore[method-assign]
    first = threading.Thread(target=lambda: chat(client, stream=False, max_tokens=2))
    first.start()
    try:
        deadline = time.monotonic() + 10
        while runtime.engine.active + runtime.engine.waiting == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = chat(client, stream=False)
    finally:
        gate.set()
        first.join(30)
        runtime.engine.decoder.step = original  # type: ignore[method-assign]
    assert busy.status_code == 429 and busy.headers["retry-after"] == "2"
    assert busy.json()["error"]["code"] == "server_busy"


def test_cors_only_for_configured_origins(make_client: Any) -> None:
    client = make_client(cors_origins=("https://chat.example",))
    allowed = client.options(
        "/api/chat",
        headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example"
    other = client.options(
        "/api/chat",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_metrics_and_json_request_logs_without_user_text(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="persian_chat.server.requests"):
        chat(client, max_tokens=5)
        client.post("/api/chat", json={"messages": HELLO, "temperature": 9})
    records = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "persian_chat.server.requests"
    ]
    assert [r["status"] for r in records] == [200, 400]
    assert records[0]["prompt_tokens"] > 0 and records[0]["completion_tokens"] >= 1
    assert records[0]["key_id"] == "anonymous" and "ttft_s" in records[0]
    assert records[1]["param"] == "temperature" and records[1]["error"] == "less_than_equal"
    assert "سلام" not in caplog.text
    text = client.get("/metrics").text
    assert 'persian_chat_requests_total{route="/api/chat",status="200"} 1.0' in text
    assert 'persian_chat_requests_total{route="/api/chat",status="400"} 1.0' in text
    model = f'model="{client.get("/health").json()["model"]}"'
    assert f"persian_chat_time_to_first_token_seconds_count{{{model}}} 1.0" in text
    assert f'persian_chat_model_requests_total{{{model},outcome="ok"}} 1.0' in text
    assert "persian_chat_prompt_tokens_total{" + model in text  # the 400 reached no model
    assert "persian_chat_active_sequences 0.0" in text and "persian_chat_queue_depth 0.0" in text


def test_debug_flag_puts_user_text_in_the_log(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(log_user_text=True)
    with caplog.at_level(logging.INFO, logger="persian_chat.server.requests"):
        chat(client, max_tokens=2, stream=False)
    assert "سلام" in caplog.text


def test_raw_asgi_disconnect_stops_generation(make_client: Any) -> None:
    """The disconnect arrives while the engine decodes; each step is slowed to 10 ms so
    that 'the next step' is longer than the event loop's own reaction time."""
    client = make_client()
    app: Starlette = client.app  # type: ignore[assignment]
    runtime: Runtime = app.state.app_state.runtime
    original = runtime.engine.decoder.step

    def slow_step(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.01)
        return original(*args, **kwargs)

    runtime.engine.decoder.step = slow_step  # type: ignore[method-assign]
    body = json.dumps(
        {"messages": HELLO, "max_tokens": 400, "temperature": 1.0, "seed": 1}
    ).encode()
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        first_token = asyncio.Event()
        steps_at_disconnect = 0
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered, steps_at_disconnect
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await first_token.wait()
            steps_at_disconnect = runtime.engine.steps
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if b'"token"' in message.get("body", b""):
                first_token.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/chat",
            "raw_path": b"/api/chat",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while runtime.engine.active:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert runtime.engine.steps - steps_at_disconnect <= 2

    client.portal.call(main)  # type: ignore[union-attr]
    tokens = sum(m.get("body", b"").count(b'"token"') for m in sent)
    assert 1 <= tokens < 400
    assert not any(b'"done"' in m.get("body", b"") for m in sent)
    assert 'status="499"' in client.get("/metrics").text


def test_shutdown_ends_a_running_stream_with_an_error_event(make_client: Any) -> None:
    client = make_client()
    runtime: Runtime = client.app.state.app_state.runtime  # type: ignore[attr-defined]
    original = runtime.engine.decoder.step
    calls = 0

    def step_then_shut_down(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            runtime.engine.shutdown(0)
        return original(*args, **kwargs)

    runtime.engine.decoder.step = step_then_shut_down  # type: ignore[method-assign]
    received = events(chat(client, max_tokens=400).text)
    assert received[-1]["error"]["message"] == "server shutting down"
    assert all("token" in e for e in received[:-1])
    assert chat(client).status_code == 503


# -- hardening: nothing a client sends can hurt the server (issue 12) ------------------------

F1 = {
    "messages": HELLO,
    "repetition_penalty": 1.6e-39,
    "temperature": 1.0,
    "seed": 0,
    "max_tokens": 300,
}
JSON = {"content-type": "application/json"}


def answers_at_once(client: TestClient) -> None:
    """The server still answers, and the hostile request left nothing running."""
    reply = chat(client, stream=False, max_tokens=4, temperature=0)
    assert reply.status_code == 200 and reply.json()["done"] is True
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["active"] == 0 and health["waiting"] == 0


@pytest.mark.parametrize(
    "body",
    [
        F1,
        {**F1, "stream": True},
        {"messages": HELLO, "repetition_penalty": 5e-324, "max_tokens": 20},
        {"messages": HELLO, "temperature": 5e-324, "max_tokens": 20},
        {
            "messages": HELLO,
            "frequency_penalty": -2,
            "presence_penalty": 2,
            "no_repeat_ngram_size": 1,
            "temperature": 2,
            "max_tokens": 40,
        },
    ],
)
def test_extreme_sampling_values_finish_normally(client: TestClient, body: dict[str, Any]) -> None:
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200
    if body.get("stream"):
        assert reply.text.rstrip().endswith("data: [DONE]")
    else:
        assert reply.json()["choices"][0]["finish_reason"] in ("stop", "length")
    answers_at_once(client)


@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b"[" * 10_000 + b"]" * 10_000, None),
        (b'{"messages": [], "max_tokens": ' + b"9" * 100_000 + b"}", None),
        (b'{"messages": [], "seed": ' + b"1" * 100_000 + b"}", None),
        (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "messages.0.content"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stop": ["\\udfff"]}', "stop"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', None),
        (b'{"messages": [], "messages": []}', "messages"),
    ],
)
def test_hostile_bodies_get_a_json_400(
    client: TestClient, content: bytes, param: str | None
) -> None:
    for route in ("/api/chat", "/v1/chat/completions"):
        reply = client.post(route, content=content, headers=JSON)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error"
        if param:
            assert error["param"] == param
    answers_at_once(client)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", True),
        ("max_tokens", "4"),
        ("max_tokens", 4.0),
        ("seed", False),
        ("temperature", "0.5"),
        ("top_k", 1.5),
        ("stream", "true"),
        ("n", True),
    ],
)
def test_types_are_strict(client: TestClient, field: str, value: Any) -> None:
    reply = client.post("/v1/chat/completions", json={"messages": HELLO, field: value})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == field


def test_only_json_bodies_are_read(client: TestClient) -> None:
    body = json.dumps({"messages": HELLO, "max_tokens": 2}).encode()
    for headers in (
        {"content-type": "text/plain"},
        {},
        {"content-type": "application/x-www-form-urlencoded"},
    ):
        reply = client.post("/api/chat", content=body, headers=headers)
        assert (
            reply.status_code == 415 and reply.json()["error"]["code"] == "unsupported_media_type"
        )
    ok = client.post(
        "/api/chat", content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 200


def test_405_names_the_allowed_methods_and_no_redirects(client: TestClient) -> None:
    reply = client.get("/api/chat")
    assert reply.status_code == 405 and reply.headers["allow"] == "POST"
    assert reply.json()["error"]["code"] == "method_not_allowed"
    slash = client.get("/api/chat/", follow_redirects=False)
    assert slash.status_code == 404 and slash.json()["error"]["code"] == "not_found"


def test_unhandled_errors_are_json_500_logged_and_counted(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import persian_chat.server.http.chat_service as service_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("an internal detail the client must not see")

    monkeypatch.setattr(service_module, "build_prompt", broken)
    with caplog.at_level(logging.INFO):
        reply = client.post("/api/chat", json={"messages": HELLO})
    assert reply.status_code == 500
    assert reply.json()["error"] == {
        "message": "internal server error",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }
    assert "internal detail" not in reply.text
    logged = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "persian_chat.server.requests"
    ]
    assert logged[-1]["status"] == 500 and logged[-1]["id"].startswith("chatcmpl-")
    assert any(logged[-1]["id"] in r.getMessage() for r in caplog.records if r.exc_info)
    assert 'status="500"' in client.get("/metrics").text
    monkeypatch.undo()
    answers_at_once(client)


def test_failed_authentication_is_rate_limited_per_address(make_client: Any) -> None:
    client = make_client(api_keys=frozenset({KEY}), auth_failures_per_minute=3)
    wrong = {"authorization": "Bearer wrong-key-0000000000000"}
    statuses = [
        client.post("/api/chat", json={"messages": HELLO}, headers=wrong).status_code
        for _ in range(6)
    ]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429, 429]
    blocked = client.post("/api/chat", json={"messages": HELLO}, headers=wrong)
    assert "retry-after" in blocked.headers


def test_logs_hold_no_client_strings_without_the_debug_flag(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    secret = "client-secret-string"
    with caplog.at_level(logging.INFO, logger="persian_chat.server.requests"):
        client.post("/v1/chat/completions", json={"messages": HELLO, "model": secret})
        client.post("/api/chat", json={"messages": HELLO, secret: 1})
        client.post("/api/chat", json={"messages": [{"role": secret, "content": "x"}]})
    assert len(caplog.records) == 3 and secret not in caplog.text


def test_a_dead_engine_loop_turns_health_503(make_client: Any) -> None:
    client = make_client()
    runtime = client.app.state.app_state.runtime  # type: ignore[attr-defined]

    def crash(batch: Any) -> Any:
        raise RuntimeError("a bug in the loop")

    runtime.engine._decode = crash
    reply = chat(client, stream=False, max_tokens=8)
    assert reply.status_code == 500 and reply.json()["error"]["code"] == "generation_failed"
    deadline = time.monotonic() + 10
    while client.get("/health").status_code != 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    health = client.get("/health").json()
    assert health["status"] == "failed" and "a bug in the loop" in health["error"]
    refused = chat(client, stream=False)
    assert refused.status_code == 503
