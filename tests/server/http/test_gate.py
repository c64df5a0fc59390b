"""The gate: keys before the failure limit, who the client is behind proxies, and bodies that
must be refused at once without stalling anyone else's stream."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from persian_chat.server.http.gate import cache_scope, client_address
from persian_chat.server.settings import ServerSettings
from tests.server.http.test_app import HELLO, KEY
from tests.server.live_server import start_in_process

ADMIN = "admin-key-0123456789abcdef"
WRONG = {"authorization": "Bearer wrong-key-0000000000000"}


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def networks(*proxies: str) -> list[Any]:
    import ipaddress

    return [ipaddress.ip_network(p) for p in proxies]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    proxies = networks("127.0.0.1/32", "10.0.0.0/8")
    assert client_address(request_from("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    assert client_address(request_from("127.0.0.1", "1.2.3.4"), proxies) == "1.2.3.4"
    # a client's own X-Forwarded-For comes first; the proxy appends the address it saw
    spoofed = request_from("127.0.0.1", "9.9.9.9, 198.51.100.7")
    assert client_address(spoofed, proxies) == "198.51.100.7"
    chained = request_from("127.0.0.1", "198.51.100.7, 10.1.2.3")  # nginx behind the UI
    assert client_address(chained, proxies) == "198.51.100.7"
    assert client_address(request_from("127.0.0.1"), proxies) == "127.0.0.1"
    assert client_address(request_from("127.0.0.1", "1.2.3.4"), []) == "127.0.0.1"


def test_cache_scope_is_the_client_and_its_salt() -> None:
    assert cache_scope("key-1", None) == "key-1"
    salted = {cache_scope("key-1", "user 1"), cache_scope("key-1", "user 2")}
    assert len(salted) == 2 and all(s.startswith("key-1/") for s in salted)
    assert "user 1" not in "".join(salted)


def test_settings_refuse_a_proxy_that_is_not_an_address(tiny_served_dir: Path) -> None:
    with pytest.raises(ValueError, match="not an address"):
        ServerSettings(model_dir=tiny_served_dir, trusted_proxies=("nginx",))


def test_wrong_keys_never_lock_out_a_valid_key(make_client: Any) -> None:
    """20 wrong admin keys and 20 wrong API keys from one address: a valid key is served."""
    client = make_client(api_keys=frozenset({KEY}), admin_key=ADMIN)
    for _ in range(20):
        client.post("/admin/model", json={"model_dir": "x"}, headers=WRONG)
        client.post("/api/chat", json={"messages": HELLO}, headers=WRONG)
    assert client.post("/api/chat", json={"messages": HELLO}, headers=WRONG).status_code == 429
    good = {"authorization": f"Bearer {KEY}"}
    reply = client.post("/api/chat", json={"messages": HELLO, "stream": False}, headers=good)
    assert reply.status_code == 200, reply.text


def guesses(peer: str, keys: list[str], forwarded: list[str], make_client: Any) -> list[int]:
    """The statuses of wrong keys sent from `peer` (a server trusting 127.0.0.1 as its
    proxy, 3 failures a minute), each with its X-Forwarded-For."""
    client = make_client(
        peer=peer,
        api_keys=frozenset({KEY}),
        auth_failures_per_minute=3,
        trusted_proxies=("127.0.0.1",),
    )
    return [
        client.post(
            "/api/chat",
            json={"messages": HELLO},
            headers={"authorization": f"Bearer {key}", "x-forwarded-for": address},
        ).status_code
        for key, address in zip(keys, forwarded, strict=True)
    ]


def test_a_spoofed_forwarded_for_does_not_dodge_the_limit(make_client: Any) -> None:
    keys = [f"wrong{n}-key-0000000000000" for n in range(8)]  # no two share a prefix
    statuses = guesses("203.0.113.5", keys, [f"10.0.0.{n}" for n in range(8)], make_client)
    assert statuses[:3] == [401] * 3 and statuses[3:] == [429] * 5


def test_failures_are_also_counted_per_key_prefix(make_client: Any) -> None:
    """Guesses of one key prefix from many addresses (behind a trusted proxy) are slowed."""
    keys = [f"same-prefix-{n:020d}" for n in range(6)] + ["other-prefix-00000000000"]
    addresses = [f"198.51.100.{n}" for n in range(7)]
    statuses = guesses("127.0.0.1", keys, addresses, make_client)
    assert statuses == [401] * 3 + [429] * 3 + [401]  # another prefix from a new address


def test_failed_admin_attempts_are_logged_without_the_key(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(admin_key=ADMIN)
    guess = "guessed-admin-key-000000000"
    with caplog.at_level(logging.WARNING, logger="persian_chat.server"):
        reply = client.post(
            "/admin/model", json={"model_dir": "x"}, headers={"authorization": f"Bearer {guess}"}
        )
    assert reply.status_code == 401
    assert "failed admin authentication" in caplog.text and guess[:6] not in caplog.text


FREEZING = {
    "64 KB": b'"' + b'\\"' * 32_000,
    "256 KiB": b'"' + b'\\"' * (128 * 1024 - 1),
}


def test_freezing_bodies_are_refused_at_once_while_a_stream_flows(tiny_served_dir: Path) -> None:
    """Issue 25's denial of service: the bodies that took 25 s each on the event loop get a
    400, and another client's stream never waits 100 ms for its next token meanwhile."""
    server = start_in_process(tiny_served_dir, step_delay=0.01, rate_limit_per_minute=0)
    arrivals: list[float] = []
    streaming = threading.Event()

    def stream() -> None:
        body = {"messages": HELLO, "max_tokens": 150, "temperature": 0.8, "no_repeat_ngram_size": 0}
        with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=60) as reply:
            for line in reply.iter_lines():
                if line.startswith("data: ") and "token" in json.loads(line[6:]):
                    arrivals.append(time.monotonic())
                    streaming.set()

    try:
        reader = threading.Thread(target=stream)
        reader.start()
        assert streaming.wait(30)
        sent_at = time.monotonic()
        for body in FREEZING.values():
            reply = httpx.post(
                f"{server.url}/tokenize",
                content=body,
                timeout=30,
                headers={"content-type": "application/json"},
            )
            assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"
        done_at = time.monotonic()
        reader.join(60)
    finally:
        server.stop()
    assert arrivals[-1] > done_at, "the stream ended before the bodies were sent"
    before = [t for t in arrivals if t < sent_at][-1:]
    after = [t for t in arrivals if t > done_at][:1]
    around = before + [t for t in arrivals if sent_at <= t <= done_at] + after
    gaps = [b - a for a, b in itertools.pairwise(around)]
    assert max(gaps) < 0.1, gaps


def test_a_connection_that_never_finishes_its_headers_is_closed(tiny_served_dir: Path) -> None:
    import socket

    server = start_in_process(tiny_served_dir, header_timeout_seconds=0.5)
    host, port = server.url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            assert slow.recv(1024) == b""  # closed by the server, well before the 10 s
        with socket.create_connection((host, int(port)), timeout=10) as prompt:
            prompt.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert prompt.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
