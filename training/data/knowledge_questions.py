"""The knowledge evaluation's questions: grounded ones (the knowledge base holds the answer)
and unanswerable ones (it cannot).

Grounded questions hold out *phrasings*, never knowledge: the entities are in the knowledge
base (and many in the training data), but these wordings are colloquial, reordered or carry
a possessive suffix, and appear nowhere in the training templates (a test checks that no
question is a training question). They come from the project's tables (countries, provinces,
cities, months) and from hand-written questions about hand-written passages
(datasets/sources/eval/grounded_*.jsonl); unanswerable ones are hand-written
(datasets/sources/eval/unanswerable.jsonl: weather, private people, invented places, live
scores and prices, the future, the user's own facts, obscure specifics).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from persian_chat.training.data.knowledge import MONTHS
from persian_chat.training.data.phrasing import pick
from persian_chat.training.data.tables import read_table

DEFAULT_EVAL_SOURCES = Path("datasets/sources/eval")

CAPITAL = (
    "{country}، پایتختش کجاست؟",
    "شهر پایتخت {country} اسمش چیه؟",
    "پایتخت {country} کدوم شهره؟",
    "اگه بخوام برم پایتخت {country}، باید برم کدوم شهر؟",
)
CURRENCY = (
    "تو {country} پولشون چیه؟",
    "پول رایج {country} اسمش چیه؟",
    "مردم {country} با چه پولی خرید می‌کنن؟",
)
CENTRE = (
    "استان {province}، مرکزش کدوم شهره؟",
    "مرکز استان {province} اسمش چیه؟",
    "شهر مرکزی استان {province} کجاست؟",
)
PROVINCE_OF = (
    "{city} تو کدوم استانه؟",
    "شهر {city} مال کدوم استانه؟",
    "{city} جزو کدوم استان ایرانه؟",
)
SEASON = (
    "ماه {month} تو کدوم فصله؟",
    "{month} ماهِ کدوم فصل ساله؟",
)


@dataclass(frozen=True)
class Question:
    question: str
    answer: str  # the short exact answer (a substring of the right passage)
    passage_id: str  # the passage that holds it
    kind: str  # capital, currency, centre, province, season, handwritten


def table_questions(tables: Path) -> Iterator[Question]:
    """Questions about every second country, every province, every second city, all months."""
    countries = read_table(
        tables / "countries.tsv", ("country",), ("capital", "continent", "currency")
    )
    for row in countries[::2]:
        name, capital, currency = (row.cells[k] for k in ("country", "capital", "currency"))
        if capital:
            text = pick(CAPITAL, f"capital:{name}").format(country=name)
            yield Question(text, capital, f"country:{name}", "capital")
        if currency:
            text = pick(CURRENCY, f"currency:{name}").format(country=name)
            yield Question(text, currency, f"country:{name}", "currency")
    for row in read_table(tables / "provinces.tsv", ("province", "centre")):
        province, centre = row.cells["province"], row.cells["centre"]
        text = pick(CENTRE, f"centre:{province}").format(province=province)
        yield Question(text, centre, f"province:{province}", "centre")
    for row in read_table(tables / "cities.tsv", ("city", "province"))[::2]:
        city, province = row.cells["city"], row.cells["province"]
        text = pick(PROVINCE_OF, f"province:{city}").format(city=city)
        yield Question(text, province, f"city:{city}", "province")
    for month, season, _ in MONTHS:
        text = pick(SEASON, f"season:{month}").format(month=month)
        yield Question(text, season, f"calendar:month:{month}", "season")


def handwritten_questions(directory: Path) -> Iterator[Question]:
    for path in sorted(directory.glob("grounded_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            yield Question(row["question"], row["answer"], row["passage_id"], "handwritten")


def evaluated_passages(directory: Path) -> frozenset[str]:
    """The ids of the hand-written passages the evaluation asks about (none when the folder
    is absent: a studio bot's own data)."""
    return frozenset(q.passage_id for q in handwritten_questions(directory))


def grounded_questions(
    tables: Path, eval_sources: Path, normalize: Callable[[str], str]
) -> list[Question]:
    """Every grounded question, normalized as the server normalizes a user's message."""
    questions = [*table_questions(tables), *handwritten_questions(eval_sources)]
    return [
        Question(normalize(q.question), normalize(q.answer), q.passage_id, q.kind)
        for q in questions
    ]


def unanswerable_questions(eval_sources: Path, normalize: Callable[[str], str]) -> list[Question]:
    rows = (eval_sources / "unanswerable.jsonl").read_text(encoding="utf-8").splitlines()
    return [
        Question(normalize(row["question"]), "", "", row["kind"]) for row in map(json.loads, rows)
    ]
