"""POST /admin/model: switching the served model without a restart, on live in-process
servers (uvicorn in a thread) with the tiny GPT-2 and a copy of it under another name (the
model id is the directory's name)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from persian_chat.server.http.app import create_app
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.openapi import build_openapi
from persian_chat.server.http.runtime import Runtime, load_runtime
from persian_chat.server.settings import ServerSettings
from tests.server.live_server import InProcessServer, start_in_process

ADMIN = "admin-key-0123456789abcdef"
API_KEY = "api-key-0123456789abcdef"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
API_AUTH = {"Authorization": f"Bearer {API_KEY}"}
HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


class HeldLoader:
    """`load_runtime` that can be held: a switch stays 'loading' until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, settings: ServerSettings) -> Runtime:
        self.entered.set()
        assert self.release.wait(60)
        return load_runtime(settings)


@pytest.fixture(scope="module")
def second_dir(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same served model under the id `served-v2`."""
    target = tmp_path_factory.mktemp("second") / "served-v2"
    shutil.copytree(tiny_served_dir, target)
    return target


@pytest.fixture(scope="module")
def broken_dir(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy whose config.json no longer matches its checksum in manifest.json."""
    target = tmp_path_factory.mktemp("broken") / "served-broken"
    shutil.copytree(tiny_served_dir, target)
    with (target / "config.json").open("a", encoding="utf-8") as file:
        file.write("\n")
    return target


@pytest.fixture
def start(tiny_served_dir: Path) -> Iterator[Callable[..., InProcessServer]]:
    """Start servers of the tiny model with an admin key; every one is stopped after."""
    started: list[InProcessServer] = []

    def make(**settings: Any) -> InProcessServer:
        options = {"admin_key": ADMIN, "rate_limit_per_minute": 0, **settings}
        started.append(start_in_process(tiny_served_dir, **options))
        return started[-1]

    yield make
    for live in started:
        live.stop()


@pytest.fixture(scope="module")
def guarded(tiny_served_dir: Path) -> Iterator[InProcessServer]:
    """One server for the refusals (none of them switches): API keys and an admin key."""
    live = start_in_process(
        tiny_served_dir,
        admin_key=ADMIN,
        api_keys=frozenset({API_KEY}),
        rate_limit_per_minute=0,
        auth_failures_per_minute=0,
    )
    yield live
    live.stop()


def state_of(live: InProcessServer) -> AppState:
    state: AppState = live.app.state.app_state
    return state


def switch(live: InProcessServer, model_dir: Path | str, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", ADMIN_AUTH)
    return httpx.post(
        f"{live.url}/admin/model",
        json={"model_dir": str(model_dir)},
        headers=headers,
        timeout=60,
        **kwargs,
    )


def served_model(live: InProcessServer, headers: dict[str, str] | None = None) -> str:
    health = httpx.get(f"{live.url}/health").json()
    [entry] = httpx.get(f"{live.url}/v1/models", headers=headers).json()["data"]
    assert health["model"] == entry["id"]
    return str(entry["id"])


def answer(live: InProcessServer, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"messages": HELLO, "max_tokens": 4, "stream": False}
    reply = httpx.post(f"{live.url}/api/chat", json=body, headers=headers, timeout=60)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_admin_route_is_off_without_an_admin_key(tiny_served_dir: Path) -> None:
    def no_model(settings: ServerSettings) -> Runtime:
        raise RuntimeError("not needed: the route refuses before any model is used")

    app = create_app(ServerSettings(model_dir=tiny_served_dir, threads=1), no_model)
    with TestClient(app) as client:
        for headers in ({}, ADMIN_AUTH):
            refused = client.post("/admin/model", json={"model_dir": "x"}, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "admin_disabled"
        assert 'route="/admin/model",status="403"} 2.0' in client.get("/metrics").text


def test_the_openapi_document_describes_the_route(tmp_path: Path) -> None:
    def route(**settings: Any) -> Any:
        document = build_openapi(ServerSettings(model_dir=tmp_path, **settings))
        return document["paths"]["/admin/model"]["post"]

    off, on = route(), route(admin_key=ADMIN)
    assert off["security"] == [] and on["security"] == [{"bearer": []}]  # off: 403 to all
    assert {"200", "400", "401", "403", "409", "422"} <= set(on["responses"])
    body = on["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/ModelSwitchRequest")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        API_AUTH,
        {"Authorization": ADMIN},
        {"Authorization": f"Basic {ADMIN}"},
    ],
)
def test_a_missing_or_wrong_admin_key_is_401(
    guarded: InProcessServer, tiny_served_dir: Path, headers: dict[str, str]
) -> None:
    refused = switch(guarded, tiny_served_dir, headers=headers)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert error_of(refused)["code"] == "invalid_admin_key"
    assert served_model(guarded, API_AUTH) == tiny_served_dir.name


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "model_dir"),
        ({"model_dir": ""}, "model_dir"),
        ({"model_dir": 3}, "model_dir"),
        ({"model_dir": "x", "other": 1}, "other"),
        ({"model_dir": "a\u0000b"}, "model_dir"),
    ],
)
def test_a_bad_body_is_400_naming_the_field(
    guarded: InProcessServer, body: dict[str, Any], param: str
) -> None:
    refused = httpx.post(f"{guarded.url}/admin/model", json=body, headers=ADMIN_AUTH)
    assert refused.status_code == 400 and error_of(refused)["param"] == param, refused.text


def test_a_directory_without_a_manifest_is_400_and_the_old_model_serves_on(
    guarded: InProcessServer, tiny_served_dir: Path, tmp_path: Path
) -> None:
    for missing in (tmp_path, tmp_path / "nowhere"):
        refused = switch(guarded, missing)
        assert refused.status_code == 400, refused.text
        error = error_of(refused)
        assert error["param"] == "model_dir" and error["code"] == "not_a_served_model"
        assert "manifest.json" in error["message"]
    assert served_model(guarded, API_AUTH) == tiny_served_dir.name
    assert answer(guarded, API_AUTH)["model"] == tiny_served_dir.name


def test_a_model_that_fails_to_load_is_422_with_the_reason(
    guarded: InProcessServer, tiny_served_dir: Path, broken_dir: Path
) -> None:
    refused = switch(guarded, broken_dir)
    assert refused.status_code == 422, refused.text
    error = error_of(refused)
    assert error["param"] == "model_dir" and error["code"] == "model_load_failed"
    assert "config.json" in error["message"] and "sha256" in error["message"]
    assert served_model(guarded, API_AUTH) == tiny_served_dir.name
    assert answer(guarded, API_AUTH)["model"] == tiny_served_dir.name
    assert not state_of(guarded).draining and not state_of(guarded).switching.locked()


def test_a_second_switch_while_one_loads_is_409(
    start: Callable[..., InProcessServer], tiny_served_dir: Path, second_dir: Path
) -> None:
    loader = HeldLoader()
    live = start(loader=loader)
    loader.release.clear()
    loader.entered.clear()
    first: list[httpx.Response] = []
    switching = threading.Thread(target=lambda: first.append(switch(live, second_dir)))
    switching.start()
    try:
        assert loader.entered.wait(30)
        second = switch(live, second_dir)
        assert second.status_code == 409 and error_of(second)["code"] == "switch_in_progress"
        assert answer(live)["model"] == tiny_served_dir.name  # served while the new one loads
    finally:
        loader.release.set()
        switching.join(60)
    assert first[0].status_code == 200, first[0].text
    assert served_model(live) == second_dir.name


def events_of(text: str) -> list[Any]:
    data = [b.removeprefix("data: ") for b in text.strip().split("\n\n") if b.startswith("data:")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def test_a_switch_sends_new_requests_to_the_new_model_and_lets_old_streams_finish(
    start: Callable[..., InProcessServer], tiny_served_dir: Path, second_dir: Path
) -> None:
    live = start()
    old: Runtime = live.runtime
    original, steps = old.engine.decoder.step, [0]
    release, held = threading.Event(), threading.Event()

    def held_step(*args: Any, **kwargs: Any) -> Any:  # the old model stops mid-answer
        steps[0] += 1
        if steps[0] > 3:
            held.set()
            release.wait(30)
        return original(*args, **kwargs)

    old.engine.decoder.step = held_step
    streamed: list[str] = []
    body = {"messages": HELLO, "max_tokens": 12, "stream": True, "temperature": 0}

    def stream_on_the_old_model() -> None:
        reply = httpx.post(f"{live.url}/v1/chat/completions", json=body, timeout=60)
        streamed.append(reply.text)

    streaming = threading.Thread(target=stream_on_the_old_model)
    streaming.start()
    try:
        assert held.wait(30)
        switched = switch(live, second_dir)
        assert switched.status_code == 200, switched.text
        result = switched.json()
        assert result["model"] == second_dir.name and result["previous"] == tiny_served_dir.name
        assert result["load_seconds"] > 0
        assert served_model(live) == second_dir.name
        assert answer(live)["model"] == second_dir.name
        # the old engine still holds the stream, and the gauges see it
        assert old.engine.active == 1 and streaming.is_alive()
        assert "persian_chat_active_sequences 1.0" in httpx.get(f"{live.url}/metrics").text
    finally:
        release.set()
        streaming.join(60)
    received = events_of(streamed[0])
    assert received[-1] == "[DONE]" and all("error" not in e for e in received[:-1])
    assert received[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    assert {e["model"] for e in received[:-1]} == {tiny_served_dir.name}
    # the old engine is joined in the background and forgotten; the new one serves on
    wait_for(lambda: not state_of(live).draining)
    assert old.engine.join(0) and httpx.get(f"{live.url}/health").status_code == 200
    metrics = httpx.get(f"{live.url}/metrics").text
    for model in (tiny_served_dir.name, second_dir.name):
        assert f'persian_chat_model_requests_total{{model="{model}",outcome="ok"}} 1.0' in metrics
        assert f'persian_chat_generated_tokens_total{{model="{model}"}}' in metrics
        assert f'persian_chat_time_to_first_token_seconds_count{{model="{model}"}} 1.0' in metrics
    assert 'persian_chat_requests_total{route="/admin/model",status="200"} 1.0' in metrics
    # the watchdog follows the current runtime: the new engine dying fails the server
    new: Runtime = state_of(live).runtime  # type: ignore[assignment]
    new.engine.failure = "injected"
    wait_for(lambda: state_of(live).status == "failed", 10)
    assert httpx.get(f"{live.url}/health").json()["error"] == "engine stopped: injected"


def test_stopping_the_server_stops_an_old_model_still_draining(
    start: Callable[..., InProcessServer], second_dir: Path
) -> None:
    live = start(step_delay=0.05, resume_grace_seconds=60)
    old: Runtime = live.runtime
    body = {
        "messages": HELLO,
        "max_tokens": 1000,
        "temperature": 1.0,
        "seed": 11,
        "resumable": True,
        "no_repeat_ngram_size": 0,
    }
    with httpx.stream("POST", f"{live.url}/api/chat", json=body, timeout=60) as response:
        next(line for line in response.iter_lines() if line.startswith("data: "))
    # the client left; the answer goes on (resumable) on the old engine after the switch
    assert switch(live, second_dir).status_code == 200
    assert old.engine.active == 1 and len(state_of(live).draining) == 1
    live.stop()
    assert not live.thread.is_alive()
    assert old.engine.join(0) and not state_of(live).tasks
    assert old.engine.steps < 1000  # the old answer was ended, not waited for to its end
