from __future__ import annotations

from collections import Counter

from persian_chat.training.data.hafez_corpus import Poem, hafez_examples, load_poems, poem_examples
from persian_chat.training.data.records import BadRow, Example


def test_package_has_495_poems_with_readings() -> None:
    poems = load_poems()
    assert len(poems) == 495
    assert poems[0].number == 1
    assert poems[0].lines[0] == "الا یا ایها الساقی ادر کاسا و ناولها"
    assert sum(bool(p.interpretation) for p in poems) == 495


def test_conversation_kinds_and_groups() -> None:
    poem = load_poems()[0]
    examples = [e for e in poem_examples(poem) if isinstance(e, Example)]
    kinds = [e.origin.split(":")[2] for e in examples]
    assert kinds[:2] == ["interpret", "message"]
    assert kinds[-1] == "recite_opening"
    assert "recite_number" not in kinds  # not learnable at 270M: dropped
    assert sum(k.startswith("continue") for k in kinds) == 2
    assert {e.group for e in examples} == {"hafez:1"}
    assert [e.domain for e in examples] == [
        "hafez",
        "hafez",
        "hafez_continuation",
        "hafez_continuation",
        "hafez",
    ]
    continue_example = next(e for e in examples if e.origin.endswith("continue1"))
    assert poem.lines[0] in continue_example.conversation["messages"][0]["content"]
    assert continue_example.conversation["messages"][1]["content"] == poem.lines[1]
    assert continue_example.expected == poem.lines[1]
    recite = next(e for e in examples if e.origin.endswith("recite_opening"))
    assert recite.conversation["messages"][1]["content"] == "\n".join(poem.lines)
    assert recite.expected is None


def test_examples_are_deterministic() -> None:
    poems = load_poems()[:20]
    first = [e for e in hafez_examples(poems)]
    assert first == [e for e in hafez_examples(poems)]
    prompts = Counter(
        e.conversation["messages"][0]["content"].split("\n")[0]
        for e in first
        if isinstance(e, Example) and e.origin.endswith("interpret")
    )
    assert len(prompts) > 1  # phrasing varies between poems


def test_poem_without_a_beyt_is_a_bad_row() -> None:
    (only,) = list(poem_examples(Poem(7, ("یک مصراع",), "تعبیر", "")))
    assert isinstance(only, BadRow)
    assert only.origin == "hafez:7"
