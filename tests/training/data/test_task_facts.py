from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from persian_chat.errors import InputError
from persian_chat.training.data.records import Example
from persian_chat.training.data.tables import read_table
from persian_chat.training.data.task_facts import CURRENCY, GEOGRAPHY, facts_examples

from .split_check import assert_split_by_entity


@pytest.fixture(scope="module")
def tables(repo: Path) -> Path:
    return repo / "datasets/sources/tables"


@pytest.fixture(scope="module")
def examples(tables: Path) -> list[Example]:
    return list(facts_examples(tables))


def test_tables_cover_the_promised_facts(tables: Path) -> None:
    countries = read_table(tables / "countries.tsv", ("country",), ("capital",))
    provinces = read_table(tables / "provinces.tsv", ("province", "centre"))
    assert len(countries) == 193  # every UN member
    assert len(provinces) == 31
    capitals = {r.cells["country"]: r.cells["capital"] for r in countries}
    assert capitals["ایران"] == "تهران" and capitals["فرانسه"] == "پاریس"
    centres = {r.cells["province"]: r.cells["centre"] for r in provinces}
    assert centres["فارس"] == "شیراز" and centres["سیستان و بلوچستان"] == "زاهدان"


def test_every_question_about_a_country_or_province_is_on_one_side(
    examples: list[Example],
) -> None:
    # The entity is the table row the example was made from (not its group).
    assert_split_by_entity(examples, lambda e: e.origin.rsplit(":", 1)[0])


def test_answers_contain_the_expected_value(examples: list[Example]) -> None:
    for example in examples:
        assert example.expected
        assert example.expected in example.conversation["messages"][1]["content"]
    assert {e.domain for e in examples} == {GEOGRAPHY, CURRENCY}
    paris = [e for e in examples if e.expected == "پاریس"]
    assert len(paris) == 2  # two differently worded capital questions
    assert paris[0].conversation != paris[1].conversation


def test_several_phrasings_and_answer_styles(examples: list[Example]) -> None:
    capital = [e for e in examples if ":capital" in e.origin and ":capital_of" not in e.origin]
    prompts = Counter(
        e.conversation["messages"][0]["content"].replace(e.group.split(":", 1)[1], "X")
        for e in capital
        if e.group
    )
    answers = Counter(
        e.conversation["messages"][1]["content"]
        .replace(e.group.split(":", 1)[1], "X")
        .replace(e.expected or "", "Y")
        for e in capital
        if e.group
    )
    assert len(prompts) >= 4 and len(answers) >= 3


def test_output_is_deterministic(tables: Path, examples: list[Example]) -> None:
    assert list(facts_examples(tables)) == examples


def test_a_repeated_country_stops_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "countries.tsv").write_text(
        "country\tcapital\tcontinent\tcurrency\nایران\tتهران\tآسیا\t\nایران\tاصفهان\t\t\n",
        encoding="utf-8",
    )
    (tmp_path / "provinces.tsv").write_text("province\tcentre\nفارس\tشیراز\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"countries\.tsv:3: country 'ایران' repeats line 2"):
        list(facts_examples(tmp_path))
