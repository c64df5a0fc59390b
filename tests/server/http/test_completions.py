"""POST /v1/completions on the tiny model: text continued as sent, echo with the prompt's
own log-probabilities (what evaluation harnesses score with), token-id prompts, streaming."""

from __future__ import annotations

import json
import math
from typing import Any

PROMPT = "پایتخت ایران"


def complete(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/completions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_prompt_is_continued_as_sent(make_client: Any) -> None:
    client = make_client()
    reply = complete(client, prompt=PROMPT, max_tokens=6, temperature=0)
    assert reply["object"] == "text_completion"
    choice = reply["choices"][0]
    assert choice["finish_reason"] in ("stop", "length") and choice["logprobs"] is None
    assert reply["usage"]["completion_tokens"] <= 6
    again = complete(client, prompt=PROMPT, max_tokens=6, temperature=0)
    assert again["choices"][0]["text"] == choice["text"]


def test_echo_scores_the_prompt_as_generation_would(make_client: Any) -> None:
    """The log-probability echo gives a token equals the one generation gave it."""
    client = make_client()
    first = complete(client, prompt=PROMPT, max_tokens=1, temperature=0, logprobs=2)
    generated = first["choices"][0]["logprobs"]
    token_text, token_lp = generated["tokens"][0], generated["token_logprobs"][0]
    tokens = client.post("/tokenize", json={"prompt": PROMPT}).json()["tokens"]
    bos_and_prompt = complete(client, prompt=PROMPT, max_tokens=0, echo=True, logprobs=2)
    echo = bos_and_prompt["choices"][0]
    assert echo["text"] == PROMPT and echo["finish_reason"] == "length"
    scores = echo["logprobs"]
    assert "".join(scores["tokens"]) == PROMPT and len(scores["tokens"]) == len(tokens)
    assert all(lp is None or lp <= 0 for lp in scores["token_logprobs"])
    assert all(top is None or len(top) <= 2 for top in scores["top_logprobs"])
    assert scores["text_offset"][0] == 0
    # the same prompt and the generated token, as ids: the last one is scored as generated
    ids = [*first_ids(client), *tokens]
    next_id = client.post("/tokenize", json={"prompt": token_text}).json()["tokens"]
    scored = complete(client, prompt=[*ids, *next_id], max_tokens=0, echo=True, logprobs=1)
    last = scored["choices"][0]["logprobs"]["token_logprobs"][-1]
    if len(next_id) == 1:  # a token that re-tokenizes to itself
        assert math.isclose(last, token_lp, abs_tol=0.02), (last, token_lp)


def first_ids(client: Any) -> list[int]:
    """The <bos> the server puts before a text prompt (as /tokenize's messages form shows)."""
    messages = {"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": False}
    return list(client.post("/tokenize", json=messages).json()["tokens"][:1])


def test_token_ids_and_bad_ones(make_client: Any) -> None:
    client = make_client()
    tokens = client.post("/tokenize", json={"prompt": PROMPT}).json()["tokens"]
    reply = complete(client, prompt=tokens, max_tokens=2, temperature=0)
    assert reply["usage"]["prompt_tokens"] == len(tokens)
    bad = client.post("/v1/completions", json={"prompt": [1, 10**9]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "prompt.1"
    empty = client.post("/v1/completions", json={"prompt": []})
    assert empty.status_code == 400
    # lm-evaluation-harness's tokenized requests: a batch of one list of ids
    batch = complete(client, prompt=[tokens], max_tokens=2, temperature=0)
    assert batch["choices"][0]["text"] == reply["choices"][0]["text"]
    two = client.post("/v1/completions", json={"prompt": [tokens, tokens]})
    assert two.status_code == 400 and two.json()["error"]["param"] == "prompt"


def test_streamed_pieces_join_to_the_whole_answer(make_client: Any) -> None:
    client = make_client()
    whole = complete(client, prompt=PROMPT, max_tokens=8, temperature=0)["choices"][0]["text"]
    body = {"prompt": PROMPT, "max_tokens": 8, "temperature": 0, "stream": True, "echo": True}
    with client.stream("POST", "/v1/completions", json=body) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"text_completion"}
    text = "".join(c["choices"][0]["text"] for c in chunks)
    assert text == PROMPT + whole
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_token_texts_join_to_the_text_when_a_character_is_split() -> None:
    from persian_chat.server.http.completions import token_texts

    sin = "س".encode()  # two bytes, one per token
    table = [sin[:1], sin[1:], "لام".encode(), b"\xff"]
    assert token_texts(table, [0, 1, 2]) == ["", "س", "لام"]
    assert "".join(token_texts(table, [2, 0])) == "لام\ufffd"  # cut off at the end
    assert token_texts(table, [3, 2]) == ["\ufffd", "لام"]  # never valid: shown at once
