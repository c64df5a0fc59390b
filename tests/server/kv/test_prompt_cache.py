"""A finished answer's KV lets the next turn prefill only its new tokens, with the logits and
tokens it would have without the cache."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import persian_chat.server.kv.slot_cache as slot_cache
from persian_chat.server.engine.core import Engine
from persian_chat.server.engine.generation import GenerationRequest
from persian_chat.server.engine.sampling import SamplingParams
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.kv.prompt_cache import PromptCache, common_prefix
from persian_chat.server.kv.slot_cache import GqaDecoder, SlotBatch
from persian_chat.server.text.served_model import load_served_model
from tests.export.test_gqa_graph import torch_logits


def kv(tokens: int, width: int = 4) -> list[Any]:
    return [np.zeros((1, tokens, width), dtype=np.float32) for _ in range(2)]  # 32 B/token


def test_entries_are_only_found_by_their_own_scope() -> None:
    cache = PromptCache(budget_bytes=32 * 10)
    cache.add([1, 2, 3], kv(3), scope="key-a")
    cache.add([1, 2, 3, 4], kv(4), scope="key-b")  # extends a's turn, but does not hold it
    assert [e.scope for e in cache.entries] == ["key-a", "key-b"]
    assert [n for _, n in cache.candidates([1, 2, 3, 9], "key-a")] == [3]
    assert [n for _, n in cache.candidates([1, 2, 3, 9], "key-c")] == []
    cache.add([5, 6, 7, 8], kv(4), scope="key-c")  # the budget is one for all scopes
    assert [e.scope for e in cache.entries] == ["key-b", "key-c"]


def test_common_prefix_counts_leading_equal_tokens() -> None:
    a = np.array([1, 2, 3, 4])
    assert common_prefix(a, np.array([1, 2, 9])) == 2
    assert common_prefix(a, np.array([1, 2])) == 2
    assert common_prefix(a, np.array([7])) == 0


def test_the_cache_keeps_the_newest_turn_and_stays_within_its_budget() -> None:
    cache = PromptCache(budget_bytes=32 * 10)
    cache.add([1, 2, 3], kv(3))
    cache.add([1, 2, 3, 4, 5], kv(5))  # the next turn of the same chat holds the first
    assert [e.tokens.tolist() for e in cache.entries] == [[1, 2, 3, 4, 5]]
    cache.add([7, 8, 9], kv(3))
    cache.add([6, 6, 6], kv(3))
    assert [e.tokens.tolist() for e in cache.entries] == [[7, 8, 9], [6, 6, 6]]
    cache.used(cache.entries[1])
    cache.used(cache.entries[0])  # [7, 8, 9] was just reused: [6, 6, 6] goes first
    cache.add([5, 5, 5], kv(3))
    cache.add([4, 4], kv(2))
    assert [e.tokens.tolist() for e in cache.entries] == [[7, 8, 9], [5, 5, 5], [4, 4]]
    cache.add(list(range(11)), kv(11))  # larger than the whole budget: not kept
    assert cache.nbytes <= cache.budget_bytes and len(cache.entries) == 3
    # the last prompt token always runs: a prompt equal to an entry shares one less
    assert [n for _, n in cache.candidates([7, 8, 9])] == [2, 0, 0]
    assert [n for _, n in cache.candidates([7, 8, 9, 1])] == [3, 0, 0]


def answer(batch: SlotBatch, prompt: list[int], tokens: int) -> list[int]:
    """Prefill `prompt` as a new row, then decode greedily: returns prompt + answer."""
    sequence = list(prompt)
    logits = batch.prefill(sequence)
    row = batch.size - 1
    for _ in range(tokens):
        sequence.append(int(np.argmax(logits)))
        logits = batch.step([sequence[-1] if r == row else 3 for r in range(batch.size)])[row]
    return sequence


@pytest.mark.parametrize("slack", [40, 2])  # the chat fits the windowed cache / overflows it
def test_the_next_turn_reuses_the_finished_answer_with_the_same_logits(
    windowed: tuple[Any, GqaDecoder], monkeypatch: pytest.MonkeyPatch, slack: int
) -> None:
    monkeypatch.setattr(slot_cache, "WINDOW_SLACK", slack)
    monkeypatch.setattr(slot_cache, "PREFILL_CHUNK", 5)
    model, decoder = windowed
    rng = np.random.default_rng(1)
    system = [int(t) for t in rng.integers(3, 300, 4)]
    batch = SlotBatch(decoder, system, PromptCache(1 << 30))
    first = answer(batch, [*system, 11, 12, 13, 14, 15], 9)  # 18 tokens, all fed
    batch.remember(0, first)
    batch.remove([0])
    assert batch.cache is not None and batch.cache.entries[0].tokens.size == 18
    turn_two = [*first, 20, 21, 22, 23]
    logits = batch.prefill(turn_two)
    assert batch.reused == 18  # the whole stored turn, whatever its length
    np.testing.assert_allclose(logits, torch_logits(model, turn_two)[-1], atol=1e-4)
    step = batch.step([5])  # and decoding goes on from there
    np.testing.assert_allclose(step[0], torch_logits(model, [*turn_two, 5])[-1], atol=1e-4)
    # an edited earlier message shares only a part of the stored turn: that part is reused
    # only where no windowed cache has evicted a position of it (18 > 8 + 2)
    edited = [*first[:12], 99, 98]
    logits = batch.prefill(edited)
    assert batch.reused == (12 if slack == 40 else len(system))
    np.testing.assert_allclose(logits, torch_logits(model, edited)[-1], atol=1e-4)


def test_an_engine_with_a_prompt_cache_answers_turn_two_as_one_without(
    tiny_gemma_served_dir: Path,
) -> None:
    model = load_served_model(tiny_gemma_served_dir)
    rng = np.random.default_rng(2)
    turn_one = [int(t) for t in rng.integers(10, 200, 12)]

    def chat(cache_bytes: int) -> tuple[list[list[int]], list[int]]:
        engine = Engine(
            load_decoder(model.onnx_path, threads=1),
            model.context_length,
            max_batch=2,
            prompt_cache_bytes=cache_bytes,
        )
        engine.start()

        async def ask(prompt: list[int]) -> tuple[list[int], int]:
            request = GenerationRequest(prompt, SamplingParams(temperature=0), 8, frozenset())
            sequence = engine.submit(request, asyncio.get_running_loop())
            tokens = [t async for t in sequence.tokens()]
            return [int(t) for t in tokens], sequence.cached_tokens

        try:
            first, cached_one = asyncio.run(ask(turn_one))
            second, cached_two = asyncio.run(ask([*turn_one, *first, 40, 41, 42]))
        finally:
            engine.shutdown(0)
            assert engine.join(10)
        return [first, second], [cached_one, cached_two]

    with_cache, cached = chat(1 << 26)
    without, none = chat(0)
    assert with_cache == without
    assert none == [0, 0] and cached[0] == 0
    assert cached[1] >= len(turn_one) + len(with_cache[0]) - 1  # the last token may be unfed


def test_the_api_reports_the_reused_tokens_as_openai_does(tiny_gemma_served_dir: Path) -> None:
    """usage.prompt_tokens_details.cached_tokens, and the /metrics counter: turn two of a
    chat reuses turn one's prompt and answer."""
    from starlette.testclient import TestClient

    from persian_chat.server.http.app import create_app
    from persian_chat.server.settings import ServerSettings
    from tests.server.http.test_app import wait_ready

    settings = ServerSettings(model_dir=tiny_gemma_served_dir, threads=1, rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        messages = [{"role": "user", "content": "سلام، حالت چطور است؟"}]
        body = {"messages": messages, "max_tokens": 6, "temperature": 0}
        first = client.post("/v1/chat/completions", json=body).json()
        answer = first["choices"][0]["message"]["content"]
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "بیشتر بگو."},
        ]
        second = client.post("/v1/chat/completions", json=body).json()
        metrics = client.get("/metrics").text
    one, two = first["usage"], second["usage"]
    assert one["prompt_tokens_details"]["cached_tokens"] < one["prompt_tokens"]
    assert two["prompt_tokens_details"]["cached_tokens"] >= one["prompt_tokens"]  # its past
    total = sum(u["prompt_tokens_details"]["cached_tokens"] for u in (one, two))
    series = f'persian_chat_prompt_cached_tokens_total{{model="{first["model"]}"}}'
    assert f"{series} {total}.0" in metrics


SECRET = "شماره‌ی کارت بانکی من این است: ۸۳۱۵۹۲"
DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def test_one_key_never_reuses_or_reveals_another_keys_cache(tiny_gemma_served_dir: Path) -> None:
    """Issue 25's attack: key B replays key A's chat, then guesses A's secret digit by digit
    from cached_tokens. B only ever sees the public system prefix reused; A (and B with a
    cache_salt of its own) still reuses its own turns."""
    from starlette.testclient import TestClient

    from persian_chat.server.http.app import create_app
    from persian_chat.server.settings import ServerSettings
    from tests.server.http.test_app import wait_ready

    key_a, key_b = "key-a-0123456789abcdef", "key-b-0123456789abcdef"
    settings = ServerSettings(
        model_dir=tiny_gemma_served_dir,
        threads=1,
        rate_limit_per_minute=0,
        api_keys=frozenset({key_a, key_b}),
    )

    def cached(client: TestClient, key: str, text: str, **extra: Any) -> int:
        body = {
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 1,
            "temperature": 0,
            **extra,
        }
        reply = client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        assert reply.status_code == 200, reply.text
        return int(reply.json()["usage"]["prompt_tokens_details"]["cached_tokens"])

    def guess(client: TestClient, key: str, **extra: Any) -> str:
        """The digits whose candidate alone reused the most tokens ('?' where none did)."""
        found = ""
        for position in range(6):
            counts = [
                cached(client, key, SECRET[: len(SECRET) - 6 + position] + d, **extra)
                for d in DIGITS
            ]
            best = max(counts)
            found += DIGITS[counts.index(best)] if counts.count(best) == 1 else "?"
        return found

    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        unseen = cached(client, key_b, "جمله‌ای که هیچ‌کس نفرستاده است و بلند است: ۱۲۳۴۵۶")
        cached(client, key_a, SECRET, max_tokens=4)
        assert cached(client, key_b, SECRET) == unseen  # A's exact chat: the prefix only
        assert guess(client, key_b) == "??????"  # the attack learns nothing
        assert cached(client, key_a, SECRET) > unseen  # A's own cache still works
        own_salt = guess(client, key_a, cache_salt="another end user of key a")
        assert own_salt == "??????"  # a salt is a partition of its own within the key
        assert guess(client, key_a) != "??????"  # the attack itself works where allowed
