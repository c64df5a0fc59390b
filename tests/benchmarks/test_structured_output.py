from __future__ import annotations

import jsonschema_rs

from persian_chat.benchmarks.structured_output import SCHEMA, messages


def test_the_messages_name_their_city_and_date_and_are_the_same_every_run() -> None:
    first = messages(50)
    assert first == messages(50) and len({text for text, _, _ in first}) > 40
    for text, city, date in first:
        assert city in text and date in text
    assert jsonschema_rs.is_valid(SCHEMA, {"city": "شیراز", "date": "۳ خرداد"})
    assert not jsonschema_rs.is_valid(SCHEMA, {"city": "شیراز"})
