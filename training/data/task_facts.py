"""Fact questions generated from project-written tables: countries (capital, continent,
currency) and Iran's provinces (centre).

Every question about one country or one province shares its split group, so the test set
asks about countries and provinces the model never saw in training. Each question has several
phrasings and answer styles; the short answer itself is kept as `expected`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from persian_chat.training.data.phrasing import picks
from persian_chat.training.data.records import Example, single_turn
from persian_chat.training.data.tables import TableRow, read_table, unique

COUNTRIES = "countries.tsv"
PROVINCES = "provinces.tsv"
GEOGRAPHY = "facts_geography"
CURRENCY = "facts_currency"

CAPITAL_PROMPTS = (
    "پایتخت {country} کجاست؟",
    "پایتخت کشور {country} کدام شهر است؟",
    "{country} چه پایتختی دارد؟",
    "اسم پایتخت {country} چیست؟",
    "می‌دانی پایتخت {country} کجاست؟",
    "پایتخت {country} را بگو.",
)
CAPITAL_ANSWERS = (
    "پایتخت {country} {capital} است.",
    "{capital} پایتخت {country} است.",
    "پایتخت کشور {country}، {capital} است.",
    "{capital}. این شهر پایتخت {country} است.",
)
CAPITAL_OF_PROMPTS = (
    "{capital} پایتخت کدام کشور است؟",
    "کدام کشور پایتختش {capital} است؟",
    "{capital} پایتخت چه کشوری است؟",
    "پایتخت کدام کشور {capital} است؟",
)
CAPITAL_OF_ANSWERS = (
    "{capital} پایتخت {country} است.",
    "{country}.",
    "{country}؛ {capital} پایتخت آن است.",
)
CONTINENT_PROMPTS = (
    "{country} در کدام قاره است؟",
    "{country} در کدام قاره قرار دارد؟",
    "کشور {country} جزو کدام قاره است؟",
    "{country} کشوری در کدام قاره است؟",
)
CONTINENT_ANSWERS = (
    "{country} در قارهٔ {continent} است.",
    "{country} در {continent} قرار دارد.",
    "قارهٔ {continent}.",
)
CURRENCY_PROMPTS = (
    "واحد پول {country} چیست؟",
    "پول رسمی {country} چه نام دارد؟",
    "در {country} با چه پولی خرید می‌کنند؟",
    "واحد پول کشور {country} را بگو.",
)
CURRENCY_ANSWERS = (
    "واحد پول {country} {currency} است.",
    "پول رسمی {country} {currency} است.",
    "{currency}.",
)
CENTRE_PROMPTS = (
    "مرکز استان {province} کجاست؟",
    "مرکز استان {province} کدام شهر است؟",
    "مرکز استان {province} را بگو.",
    "استان {province} مرکزش کجاست؟",
    "کدام شهر مرکز استان {province} است؟",
)
CENTRE_ANSWERS = (
    "مرکز استان {province} {centre} است.",
    "{centre} مرکز استان {province} است.",
    "مرکز استان {province} شهر {centre} است.",
)
CENTRE_OF_PROMPTS = (
    "{centre} مرکز کدام استان است؟",
    "شهر {centre} مرکز کدام استان ایران است؟",
    "{centre} مرکز چه استانی است؟",
    "{centre} مرکز کدام استان ایران است؟",
)
CENTRE_OF_ANSWERS = (
    "{centre} مرکز استان {province} است.",
    "استان {province}.",
    "{centre} مرکز استان {province} در ایران است.",
)

# Two differently worded rows for the main question of each entity, one for the others.
MAIN_QUESTION_ROWS = 2


def _ask(
    row: TableRow,
    kind: str,
    prompts: tuple[str, ...],
    answers: tuple[str, ...],
    expected: str,
    domain: str,
    group: str,
    rows: int = 1,
) -> Iterator[Example]:
    """`rows` conversations asking one question, each worded differently."""
    key = f"{group}:{kind}"
    for index, (prompt, answer) in enumerate(
        zip(picks(prompts, key, rows), picks(answers, key + ":a", rows), strict=True), start=1
    ):
        cells = row.cells
        yield Example(
            single_turn(prompt.format(**cells), answer.format(**cells)),
            f"{row.origin}:{kind}{index}",
            group,
            domain,
            expected,
        )


def country_examples(row: TableRow) -> Iterator[Example]:
    """Capital (twice) and the country of the capital, continent and currency, where known."""
    cells = row.cells
    group = f"country:{cells['country']}"
    if cells["capital"]:
        yield from _ask(
            row,
            "capital",
            CAPITAL_PROMPTS,
            CAPITAL_ANSWERS,
            cells["capital"],
            GEOGRAPHY,
            group,
            MAIN_QUESTION_ROWS,
        )
        yield from _ask(
            row,
            "capital_of",
            CAPITAL_OF_PROMPTS,
            CAPITAL_OF_ANSWERS,
            cells["country"],
            GEOGRAPHY,
            group,
        )
    if cells["continent"]:
        yield from _ask(
            row,
            "continent",
            CONTINENT_PROMPTS,
            CONTINENT_ANSWERS,
            cells["continent"],
            GEOGRAPHY,
            group,
        )
    if cells["currency"]:
        yield from _ask(
            row,
            "currency",
            CURRENCY_PROMPTS,
            CURRENCY_ANSWERS,
            cells["currency"],
            CURRENCY,
            group,
        )


def province_examples(row: TableRow) -> Iterator[Example]:
    """Centre of the province (twice) and the province of the centre."""
    cells = row.cells
    group = f"province:{cells['province']}"
    yield from _ask(
        row,
        "centre",
        CENTRE_PROMPTS,
        CENTRE_ANSWERS,
        cells["centre"],
        GEOGRAPHY,
        group,
        MAIN_QUESTION_ROWS,
    )
    yield from _ask(
        row, "centre_of", CENTRE_OF_PROMPTS, CENTRE_OF_ANSWERS, cells["province"], GEOGRAPHY, group
    )


def facts_examples(tables: Path) -> Iterator[Example]:
    countries = read_table(tables / COUNTRIES, ("country",), ("capital", "continent", "currency"))
    unique(countries, "country")
    unique(countries, "capital")
    provinces = read_table(tables / PROVINCES, ("province", "centre"))
    unique(provinces, "province")
    for country in countries:
        yield from country_examples(country)
    for province in provinces:
        yield from province_examples(province)
