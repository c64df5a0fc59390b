"""Structured output: answers of a tiny *random* model constrained to JSON schemas. Random
weights write no JSON on their own, so only the token mask can make the answers valid."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonschema_rs
import pytest

from persian_chat.server.engine.grammar import Constraint, Grammar, GrammarError, schema_grammar

SCHEMAS = 200
MAX_TOKENS = 400


def random_schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A schema in the supported subset whose every value ends within a few tokens (a
    random model never closes an unbounded string)."""
    kinds = ["string", "integer", "number", "boolean", "enum", "null"]
    if depth < 2:
        kinds += ["object", "array"]
    kind = rng.choice(kinds)
    if kind == "string":
        schema: dict[str, Any] = {"type": "string", "maxLength": rng.randint(0, 6)}
        if rng.random() < 0.3:
            schema["minLength"] = rng.randint(0, schema["maxLength"])
        return schema
    if kind == "integer":
        low = rng.randint(-50, 50)
        return {"type": "integer", "minimum": low, "maximum": low + rng.randint(0, 500)}
    if kind == "number":
        return {"type": "number", "minimum": 0, "maximum": 10}
    if kind == "enum":
        return {"enum": rng.sample(["تهران", "شیراز", "red", "۱۲", "yes", "no"], rng.randint(1, 4))}
    if kind == "array":
        return {
            "type": "array",
            "items": random_schema(rng, depth + 1),
            "minItems": 0,
            "maxItems": rng.randint(1, 3),
        }
    if kind == "object":
        names = rng.sample(
            ["city", "date", "name", "count", "tags", "ok", "شهر"], rng.randint(1, 3)
        )
        return {
            "type": "object",
            "properties": {n: random_schema(rng, depth + 1) for n in names},
            "required": rng.sample(names, rng.randint(0, len(names))),
            "additionalProperties": False,
        }
    return {"type": kind}


def test_the_schemas_are_checked_by_jsonschema() -> None:
    """The validator the property test relies on does refuse a wrong answer."""
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert jsonschema_rs.is_valid(schema, {"n": 3})
    assert not jsonschema_rs.is_valid(schema, {"n": "3"})
    assert not jsonschema_rs.is_valid(schema, {})


def test_every_answer_of_a_random_model_matches_its_schema(make_client: Any) -> None:
    client = make_client(rate_limit_per_minute=0)  # SCHEMAS requests in well under a minute
    rng = random.Random(7)
    finished = 0
    for index in range(SCHEMAS):
        schema = random_schema(rng)
        body = {
            "messages": [{"role": "user", "content": "اطلاعات را به JSON بده."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": f"s{index}", "schema": schema, "strict": True},
            },
            "temperature": 1.0,
            "seed": index,
            "max_tokens": MAX_TOKENS,
        }
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "stop", (schema, choice)
        answer = json.loads(choice["message"]["content"])
        assert jsonschema_rs.is_valid(schema, answer), (schema, answer)
        finished += 1
    assert finished == SCHEMAS


def test_json_object_and_the_native_route(make_client: Any) -> None:
    client = make_client()
    body = {
        "messages": [{"role": "user", "content": "یک شیء JSON بنویس."}],
        "response_format": {"type": "json_object"},
        "temperature": 1.0,
        "seed": 3,
        "max_tokens": MAX_TOKENS,
    }
    answer = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    if answer["finish_reason"] == "stop":  # an open-ended object may run to max_tokens
        assert isinstance(json.loads(answer["message"]["content"]), dict)
    else:
        assert answer["message"]["content"].startswith("{")
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,  # else a random model may write keys to max_tokens
    }
    native = {
        **body,
        "stream": False,
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }
    reply = client.post("/api/chat", json=native).json()
    assert json.loads(reply["message"]["content"])["ok"] in (True, False)


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "object", "not": {"required": ["a"]}}, "not"),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": "string", "format": "weird"}, "format"),
    ],
)
def test_an_unsupported_keyword_is_a_400_naming_it(
    make_client: Any, schema: dict[str, Any], keyword: str
) -> None:
    client = make_client()
    body = {
        "messages": [{"role": "user", "content": "سلام"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "response_format" and keyword in error["message"]


def test_a_malformed_response_format_is_a_400(make_client: Any) -> None:
    client = make_client()
    for response_format in (
        {"type": "json_schema"},
        {"type": "xml"},
        {"type": "json_object", "x": 1},
    ):
        body = {
            "messages": [{"role": "user", "content": "سلام"}],
            "response_format": response_format,
        }
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, response_format
        assert "response_format" in response.text


def test_a_constraint_refuses_a_token_the_grammar_does_not_allow(tiny_served_dir: Any) -> None:
    from persian_chat.server.text.served_model import load_served_model

    model = load_served_model(tiny_served_dir)
    text = schema_grammar({"type": "json_schema", "json_schema": {"schema": {"type": "boolean"}}})
    assert text is not None
    constraint = Constraint(Grammar(model.grammar_tokenizer, text))
    vocab = model.tokenizer.get_vocab_size()
    allowed = constraint.allowed(vocab)
    assert 0 < allowed.sum() < vocab
    forbidden = int((~allowed).nonzero()[0][0])
    with pytest.raises(ValueError, match="breaks the grammar"):
        constraint.advance(forbidden)
    with pytest.raises(GrammarError):
        schema_grammar({"type": "json_schema", "json_schema": "not an object"})
