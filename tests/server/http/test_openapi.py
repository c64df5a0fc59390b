from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from persian_chat.server.http.openapi import build_openapi
from persian_chat.server.settings import ServerSettings
from tests.server.live_server import LiveServer, start_server

KEY = "schema-test-key-0123456789"
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def server(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("schema") / "server.log"
    live = start_server(
        tiny_served_dir,
        log,
        {"PERSIAN_CHAT_API_KEYS": KEY},
        "--rate-limit",
        "0",
        "--auth-failures-per-minute",
        "0",
        "--max-tokens-limit",
        "8",
    )
    yield live
    live.stop()


def test_the_document_carries_the_server_limits(tmp_path: Path) -> None:
    settings = ServerSettings(
        model_dir=tmp_path,
        threads=1,
        max_messages=7,
        max_tokens_limit=9,
        max_stop_strings=2,
        api_keys=frozenset({KEY}),
    )
    schemas = build_openapi(settings)["components"]["schemas"]
    chat = schemas["ChatRequest"]["properties"]
    assert chat["messages"]["maxItems"] == 7
    assert chat["max_tokens"]["anyOf"][0]["maximum"] == 9
    assert chat["stop"]["anyOf"][1]["maxItems"] == 2
    assert schemas["ChatRequest"]["additionalProperties"] is False
    assert "frequency_penalty" in schemas["OpenAIChatRequest"]["properties"]


def test_openapi_is_served(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/chat", "/v1/chat/completions", "/v1/models", "/health"} <= set(document["paths"])


def test_schemathesis_finds_no_failure(server: LiveServer, tmp_path: Path) -> None:
    """Every check schemathesis has, against the live server, with a fixed seed and a
    bounded number of examples per operation."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--no-color",
        "--generation-database",
        "none",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "generated" in output and "Server error" not in output
    assert server.process.poll() is None  # and the server is still up
