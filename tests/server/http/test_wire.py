from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from persian_chat.server.http.api_schema import ChatRequest, OpenAIChatRequest
from persian_chat.server.http.wire import OpenAIWire, Wire, sse, sse_events
from persian_chat.server.text.stream import GenerationError, StreamStats

MESSAGES = [{"role": "user", "content": "سلام"}]


async def pieces(*texts: str, fail: bool = False) -> AsyncIterator[str]:
    for text in texts:
        yield text
    if fail:
        raise GenerationError("decode failed")


def run(stream: AsyncIterator[str], wire: Wire) -> tuple[list[Any], list[tuple[Any, ...]]]:
    closed: list[tuple[Any, ...]] = []

    async def main() -> list[str]:
        close = lambda *args: closed.append(args)  # noqa: E731
        return [line async for line in sse_events(stream, wire, close)]

    lines = asyncio.run(main())
    events = []
    for line in lines:
        assert line.startswith("data: ") and line.endswith("\n\n")
        data = line[len("data: ") : -2]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events, closed


def stats(reason: str = "length") -> StreamStats:
    s = StreamStats(prompt_tokens=3, completion_tokens=2, finish_reason=reason)
    s.token_times = [s.started + 0.1, s.started + 0.2]
    return s


def test_sse_keeps_persian_text_as_is() -> None:
    assert sse({"token": "سلام"}) == 'data: {"token":"سلام"}\n\n'


def test_our_wire_streams_tokens_then_one_summary() -> None:
    body = ChatRequest.model_validate({"messages": MESSAGES})
    events, closed = run(pieces("سل", "ام"), Wire("id-1", "m", stats(), body))
    assert events[:2] == [{"token": "سل"}, {"token": "ام"}]
    summary = events[2]
    assert summary["done"] is True and summary["id"] == "id-1" and summary["model"] == "m"
    assert summary["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert closed == [(200, None, "سلام")]


def test_openai_wire_opens_with_the_role_and_ends_with_usage_and_done() -> None:
    body = OpenAIChatRequest.model_validate(
        {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    )
    events, closed = run(pieces("سلام"), OpenAIWire("id-2", "m", stats("length"), body))
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[1]["choices"][0]["delta"] == {"content": "سلام"}
    assert events[2]["choices"][0]["finish_reason"] == "length"
    assert events[3]["choices"] == [] and events[3]["usage"]["total_tokens"] == 5
    assert events[4] == "[DONE]" and closed == [(200, None, "سلام")]
    reply = OpenAIWire("id-2", "m", stats("stop"), body).reply("سلام")
    assert reply["object"] == "chat.completion" and reply["choices"][0]["finish_reason"] == "stop"


def test_an_engine_failure_ends_the_stream_with_one_error_event_and_the_text_so_far() -> None:
    body = ChatRequest.model_validate({"messages": MESSAGES})
    events, closed = run(pieces("سلام", fail=True), Wire("id-3", "m", stats(), body))
    assert events[0] == {"token": "سلام"}
    assert events[-1]["error"]["code"] == "generation_failed" and len(events) == 2
    assert closed == [(500, "decode failed", "سلام")]


def test_an_event_stays_one_line_for_readers_that_split_at_unicode_line_breaks() -> None:
    """A token may decode to U+2028, U+2029 or U+0085 (a random tiny model emits them):
    httpx's iter_lines (the UI's client) splits lines there, so they are sent escaped."""
    text = "یک\u2028دو\x85سه\u2029"
    event = sse({"token": text})
    lines = [line for line in event.splitlines() if line]
    assert len(lines) == 1 and json.loads(lines[0].removeprefix("data: ")) == {"token": text}
