"""Fixtures shared by the server tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from persian_chat.export.gqa_graph import build_gqa_graph
from persian_chat.server.http.app import create_app
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.kv.slot_cache import GqaDecoder
from persian_chat.server.settings import ServerSettings
from tests.export.test_gqa_graph import windowed_model
from tests.server.live_server import wait_ready


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, GqaDecoder]:
    """A tiny Gemma-3 with a sliding window of 8 and its GroupQueryAttention decoder."""
    model = windowed_model(window=8)
    decoder = load_decoder(build_gqa_graph(model, tmp_path_factory.mktemp("gqa"), 128))
    assert isinstance(decoder, GqaDecoder)
    return model, decoder


@pytest.fixture
def make_client(tiny_served_dir: Path) -> Iterator[Any]:
    """Apps on the tiny model with settings of the test's choosing (`peer`: the client
    address the app sees), closed after the test."""
    clients: list[TestClient] = []

    def make(peer: str = "testclient", **overrides: Any) -> TestClient:
        settings = ServerSettings(model_dir=tiny_served_dir, threads=1, **overrides)
        client = TestClient(create_app(settings), client=(peer, 50000))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
