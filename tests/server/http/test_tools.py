from __future__ import annotations

from persian_chat.server.http.tools import ForcedCall, closed


def test_objects_with_properties_are_closed_to_other_keys() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "properties": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {}}},
        },
        "$defs": {"x": {"anyOf": [{"type": "object", "properties": {"b": {}}}]}},
    }
    out = closed(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in out["properties"]["city"]
    assert out["properties"]["list"]["items"]["additionalProperties"] is False
    assert out["$defs"]["x"]["anyOf"][0]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the request's schema is left as it was
    kept = {"type": "object", "properties": {}, "additionalProperties": True}
    assert closed(kept)["additionalProperties"] is True  # an explicit choice stays


def test_an_answer_becomes_a_call_only_when_complete() -> None:
    one = ForcedCall({"weather": {"type": "object"}})
    (call,) = one.calls('{"city": "تهران"}') or []
    assert call["function"] == {"name": "weather", "arguments": '{"city": "تهران"}'}
    assert one.calls('{"city": "ته') is None
    two = ForcedCall({"a": {}, "b": {}})
    assert two.schema()["anyOf"][1]["properties"]["name"] == {"const": "b"}
    assert two.calls('{"name": "c", "arguments": {}}') is None
    (named,) = two.calls('{"name": "b", "arguments": {"x": 1}}') or []
    assert named["function"]["name"] == "b"
