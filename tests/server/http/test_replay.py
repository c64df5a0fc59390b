"""Resumable streams end to end on a live in-process server (uvicorn), each decoding step
slowed so that a connection can be cut mid-answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from persian_chat.server.http.replay import Replay, parse_event_id
from tests.server.live_server import InProcessServer, start_in_process

HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]
BODY = {
    "messages": HELLO,
    "max_tokens": 40,
    "temperature": 1.0,
    "seed": 11,
    "resumable": True,
    "no_repeat_ngram_size": 0,
}


@pytest.fixture(scope="module")
def server(tiny_served_dir: Path) -> Iterator[InProcessServer]:
    live = start_in_process(
        tiny_served_dir, 0.02, rate_limit_per_minute=0, resume_grace_seconds=1.0
    )
    yield live
    live.stop()


def blocks(text: str) -> list[tuple[str, Any]]:
    """(event id, data) of each SSE event."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["id"], json.loads(fields["data"])))
    return out


def read_some(url: str, body: dict[str, Any], count: int) -> list[tuple[str, Any]]:
    """The first `count` events, then the connection is cut."""
    received = ""
    with httpx.stream("POST", f"{url}/api/chat", json=body) as response:
        for chunk in response.iter_text():
            received += chunk
            if received.count("\n\n") >= count:
                break
    return blocks("\n\n".join(received.split("\n\n")[:count]))


def text_of(events: list[tuple[str, Any]]) -> str:
    return "".join(data.get("token", "") for _, data in events)


def wait_idle(server: InProcessServer) -> None:
    deadline = time.monotonic() + 10
    while server.runtime.engine.active:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_cut_stream_resumes_with_exactly_the_uncut_text(server: InProcessServer) -> None:
    whole = blocks(httpx.post(f"{server.url}/api/chat", json=BODY, timeout=60).text)
    assert whole[-1][1]["done"] is True and [i for i, _ in whole] == [
        f"{whole[0][0].rsplit(':', 1)[0]}:{n}" for n in range(len(whole))
    ]
    first = read_some(server.url, BODY, 3)
    assert len(first) == 3
    time.sleep(0.3)  # the answer goes on while nobody reads it
    rest = blocks(
        httpx.post(
            f"{server.url}/api/chat", json=BODY, timeout=60, headers={"Last-Event-ID": first[-1][0]}
        ).text
    )
    assert rest[0][0].endswith(":3") and rest[-1][1]["done"] is True
    assert text_of(first + rest) == text_of(whole)


def test_after_the_grace_period_the_generation_is_cancelled(server: InProcessServer) -> None:
    first = read_some(server.url, {**BODY, "max_tokens": 400}, 2)
    time.sleep(1.5)  # over the 1 s grace
    wait_idle(server)
    late = httpx.post(f"{server.url}/api/chat", json=BODY, headers={"Last-Event-ID": first[-1][0]})
    assert late.status_code == 404 and late.json()["error"]["code"] == "stream_not_found"
    assert 'route="/api/chat",status="499"' in httpx.get(f"{server.url}/metrics").text


def test_delete_stops_a_resumable_stream_at_once(tiny_served_dir: Path) -> None:
    """With a grace period far longer than the answer, only the DELETE can stop it: the
    engine takes at most two more decoding steps after the DELETE is answered."""
    server = start_in_process(
        tiny_served_dir, 0.02, rate_limit_per_minute=0, resume_grace_seconds=120.0
    )
    try:
        body = {**BODY, "max_tokens": 400}
        first = read_some(server.url, body, 2)
        request_id = first[0][0].rsplit(":", 1)[0]
        time.sleep(0.2)  # the abandoned answer goes on: the grace period keeps it
        assert server.runtime.engine.active == 1
        reply = httpx.delete(f"{server.url}/api/chat/{request_id}")
        steps_at_delete = server.runtime.engine.steps
        assert reply.json() == {"id": request_id, "cancelled": True}
        wait_idle(server)
        assert server.runtime.engine.steps - steps_at_delete <= 2
        assert httpx.delete(f"{server.url}/api/chat/{request_id}").status_code == 404
        late = httpx.post(
            f"{server.url}/api/chat", json=BODY, headers={"Last-Event-ID": first[-1][0]}
        )
        assert late.status_code == 404
        bad = httpx.post(f"{server.url}/api/chat", json=BODY, headers={"Last-Event-ID": "nonsense"})
        assert bad.status_code == 404
    finally:
        server.stop()


def test_event_ids_parse_and_replay_serves_late_readers() -> None:
    assert parse_event_id("chatcmpl-ab:12") == ("chatcmpl-ab", 12)
    assert parse_event_id("12") is None and parse_event_id("x:y") is None

    async def main() -> tuple[list[str], list[str], bool]:
        async def source() -> AsyncIterator[str]:
            for n in range(3):
                await asyncio.sleep(0.01)
                yield f"data: {n}\n\n"

        registry: dict[str, Replay] = {}
        abandoned: list[bool] = []
        replay = Replay("r1", "k", 0.05, registry, lambda: abandoned.append(True))
        replay.start(source())
        replay.attach()
        early = [e async for e in replay.follow(-1)]
        late = [e async for e in replay.follow(0)]
        replay.detach()
        await asyncio.sleep(0.1)  # finished streams are forgotten after the grace period
        return early, late, "r1" in registry or bool(abandoned)

    early, late, left = asyncio.run(main())
    assert early == [f"id: r1:{n}\ndata: {n}\n\n" for n in range(3)] and late == early[1:]
    assert not left
