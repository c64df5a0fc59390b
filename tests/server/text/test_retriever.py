"""Passages retrieved into the prompt: sources on both routes, "knowledge": false, nothing
relevant, POST /knowledge/search and the retrieval counter (tiny model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from persian_chat.knowledge import PASSAGES_HEADING, Passage
from persian_chat.server.http.app import create_app
from persian_chat.server.settings import ServerSettings
from tests.server.live_server import wait_ready

PASSAGES = [
    Passage("c:ژاپن", "ژاپن", "پایتخت ژاپن شهر توکیو است.", "countries", "geography"),
    Passage("c:عراق", "عراق", "واحد پول عراق دینار است.", "countries", "geography"),
]
JAPAN = [{"role": "user", "content": "پایتخت ژاپن کجاست؟"}]
UNKNOWN = [{"role": "user", "content": "قیمت دلار امروز چنده؟"}]


@pytest.fixture(scope="module")
def client(
    tiny_gemma_served_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("knowledge") / "passages.jsonl"
    path.write_text("".join(json.dumps(p.as_dict(), ensure_ascii=False) + "\n" for p in PASSAGES))
    settings = ServerSettings(
        model_dir=tiny_gemma_served_dir, threads=1, rate_limit_per_minute=0, knowledge=path
    )
    with TestClient(create_app(settings)) as live:
        wait_ready(live)
        yield live


def chat(client: TestClient, route: str, messages: list[Any], **extra: Any) -> Any:
    body = {"messages": messages, "max_tokens": 3, "temperature": 0, "stream": False, **extra}
    reply = client.post(route, json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize("route", ["/api/chat", "/v1/chat/completions"])
def test_answers_carry_the_passages_they_were_given(client: TestClient, route: str) -> None:
    answer = chat(client, route, JAPAN)
    assert answer["sources"] == [{"id": "c:ژاپن", "title": "ژاپن"}]
    off = chat(client, route, JAPAN, knowledge=False)
    assert off["sources"] == []
    assert off["usage"]["prompt_tokens"] < answer["usage"]["prompt_tokens"]  # no passages
    assert chat(client, route, UNKNOWN)["sources"] == []  # nothing relevant


def test_the_prompt_holds_the_passage_before_the_question(client: TestClient) -> None:
    from persian_chat.server.http.api_schema import ChatRequest
    from persian_chat.server.http.prompt_request import build_prompt

    runtime = client.app.state.app_state.runtime  # type: ignore[attr-defined]
    body = ChatRequest.model_validate({"messages": JAPAN})
    settings = client.app.state.app_state.settings  # type: ignore[attr-defined]
    prompt = build_prompt(
        body, 3, runtime.model, settings, runtime.normalize, "", runtime.knowledge
    )
    last = prompt.messages[-1]["content"]
    assert last.startswith(PASSAGES_HEADING) and "توکیو" in last and last.endswith("کجاست؟")
    assert [p.id for p in prompt.sources] == ["c:ژاپن"]


def test_a_calculation_reads_its_computed_passage_first(client: TestClient) -> None:
    """A sum gets a passage with its exact result (persian_chat.computed_passages) ahead of
    anything retrieved; a question that is no calculation gets none."""
    sum_question = [{"role": "user", "content": "حاصل ۶۷ + ۶۰ چیست؟"}]
    answer = chat(client, "/api/chat", sum_question)
    assert answer["sources"] == [{"id": "computed:+", "title": "حساب"}]
    assert chat(client, "/api/chat", sum_question, knowledge=False)["sources"] == []
    assert [s["id"] for s in chat(client, "/api/chat", JAPAN)["sources"]] == ["c:ژاپن"]


def test_streams_end_with_the_sources(client: TestClient) -> None:
    for route in ("/api/chat", "/v1/chat/completions"):
        body = {"messages": JAPAN, "max_tokens": 3, "stream": True}
        text = client.post(route, json=body).text
        events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
        final = [e for e in events if "sources" in e]
        assert len(final) == 1 and final[0]["sources"] == [{"id": "c:ژاپن", "title": "ژاپن"}]


def test_knowledge_search_shows_what_the_chat_would_read(client: TestClient) -> None:
    found = client.post("/knowledge/search", json={"query": "پول رایج عراق چیه؟"}).json()
    assert found["passages"] == 2 and found["hits"][0]["id"] == "c:عراق"
    assert 0 < found["hits"][0]["coverage"] <= 1
    nothing = client.post("/knowledge/search", json={"query": "قیمت دلار امروز"}).json()
    assert nothing["hits"] == []
    bad = client.post("/knowledge/search", json={"query": "", "k": 3})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "query"


def test_retrievals_are_counted(client: TestClient) -> None:
    before = client.get("/metrics").text
    chat(client, "/api/chat", JAPAN)
    chat(client, "/api/chat", UNKNOWN)
    after = client.get("/metrics").text

    def count(text: str, outcome: str) -> float:
        key = f'persian_chat_knowledge_retrievals_total{{outcome="{outcome}"}} '
        line = next((x for x in text.splitlines() if x.startswith(key)), key + "0")
        return float(line.split()[-1])

    assert count(after, "found") == count(before, "found") + 1
    assert count(after, "empty") == count(before, "empty") + 1


def test_a_server_without_knowledge_says_so(make_client: Any) -> None:
    plain = make_client(rate_limit_per_minute=0)
    reply = plain.post("/knowledge/search", json={"query": "ژاپن"})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "no_knowledge_base"
    answer = plain.post("/api/chat", json={"messages": JAPAN, "stream": False, "max_tokens": 2})
    assert answer.json()["sources"] == []


def test_a_model_s_own_knowledge_comes_between_the_named_one_and_the_fallback(
    tmp_path: Path,
) -> None:
    from persian_chat.server.http.runtime import knowledge_path

    (tmp_path / "knowledge.jsonl").write_text("")
    model = tmp_path  # a served model's directory
    named, fallback = tmp_path / "named.jsonl", tmp_path / "project.jsonl"

    def settings(**fields: Any) -> ServerSettings:
        return ServerSettings(model_dir=tmp_path, **fields)

    assert knowledge_path(settings(knowledge=named, knowledge_fallback=fallback), model) == named
    assert (
        knowledge_path(settings(knowledge_fallback=fallback), model) == tmp_path / "knowledge.jsonl"
    )
    off = settings(model_knowledge=False, knowledge_fallback=None)
    assert knowledge_path(off, model) is None
    assert knowledge_path(settings(knowledge_fallback=fallback), tmp_path / "x") == fallback


def test_serve_options_pick_the_knowledge_settings(tmp_path: Path) -> None:
    from persian_chat.errors import UserError
    from persian_chat.server.http.serve import knowledge_setting

    assert knowledge_setting(None, True) == {
        "knowledge": None,
        "model_knowledge": False,
        "knowledge_fallback": None,
    }
    (tmp_path / "passages.jsonl").write_text("")
    assert knowledge_setting(tmp_path, False)["knowledge"] == tmp_path  # a folder with one
    with pytest.raises(UserError, match="no knowledge base"):
        knowledge_setting(tmp_path / "missing.jsonl", False)


def test_replicas_share_a_postgresql_knowledge_base(
    tiny_gemma_served_dir: Path, tmp_path: Path, postgres_database: str
) -> None:
    """The first replica fills the empty database from its passages file; a second one,
    started without a file, answers from the same passages."""
    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(p.as_dict(), ensure_ascii=False) + "\n" for p in PASSAGES))
    first = ServerSettings(
        model_dir=tiny_gemma_served_dir, threads=1, knowledge=path, knowledge_url=postgres_database
    )
    second = ServerSettings(
        model_dir=tiny_gemma_served_dir, threads=1, knowledge_url=postgres_database
    )
    for settings in (first, second):
        with TestClient(create_app(settings)) as replica:
            wait_ready(replica)
            found = replica.post("/knowledge/search", json={"query": "پول رایج عراق چیه؟"})
            assert found.json()["passages"] == 2 and found.json()["hits"][0]["id"] == "c:عراق"
            answer = chat(replica, "/api/chat", JAPAN)
            assert answer["sources"] == [{"id": "c:ژاپن", "title": "ژاپن"}]
