"""The project's knowledge base: passages generated from its own tables and corpora, plus the
hand-written ones, normalized like the chat data and written by `prepare` as
datasets/knowledge/passages.jsonl.

Sources, in the file's order: every UN member (capital, continent, currency where the table
has them), Iran's provinces with their centres and large cities, 101 large cities, the
Jalali calendar (months, weekdays, the official solar holidays, Nowruz and Yalda), each
hand-written conversation's first answer as a question–answer passage (small talk and the
"I don't know" examples left out: they are no knowledge), the Divan of Hafez (each ghazal in
passages of three beyts, and its reading), and the passages written for this project
(datasets/sources/knowledge/). The knowledge base holds every entity, test ones included:
evaluation holds out phrasings of questions, never knowledge.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from persian_chat.knowledge import Passage
from persian_chat.training.data.hafez_corpus import load_poems
from persian_chat.training.data.readers import read_jsonl
from persian_chat.training.data.tables import read_table

DEFAULT_HANDWRITTEN = Path("datasets/sources/knowledge")
KNOWLEDGE_FILE = "knowledge/passages.jsonl"
NO_KNOWLEDGE_DOMAINS = frozenset({"greetings_smalltalk", "dont_know_refusals", "emotions_support"})
BEYTS_PER_PASSAGE = 3

MONTHS = (  # name, season, days
    ("فروردین", "بهار", "۳۱"),
    ("اردیبهشت", "بهار", "۳۱"),
    ("خرداد", "بهار", "۳۱"),
    ("تیر", "تابستان", "۳۱"),
    ("مرداد", "تابستان", "۳۱"),
    ("شهریور", "تابستان", "۳۱"),
    ("مهر", "پاییز", "۳۰"),
    ("آبان", "پاییز", "۳۰"),
    ("آذر", "پاییز", "۳۰"),
    ("دی", "زمستان", "۳۰"),
    ("بهمن", "زمستان", "۳۰"),
    ("اسفند", "زمستان", "۲۹ و در سال‌های کبیسه ۳۰"),
)
ORDINALS = (
    "اول",
    "دوم",
    "سوم",
    "چهارم",
    "پنجم",
    "ششم",
    "هفتم",
    "هشتم",
    "نهم",
    "دهم",
    "یازدهم",
    "دوازدهم",
)
WEEKDAYS = ("شنبه", "یکشنبه", "دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه")
CALENDAR = (  # title, text: facts of the solar calendar that do not move
    (
        "نوروز",
        "نوروز، آغاز سال نو در تقویم هجری خورشیدی، روز اول فروردین است که با اعتدال "
        "بهاری هم‌زمان است. روزهای اول تا چهارم فروردین در ایران تعطیل رسمی‌اند.",
    ),
    (
        "سیزده‌بدر",
        "روز سیزدهم فروردین، سیزده‌بدر یا روز طبیعت، آخرین روز جشن‌های نوروز است و "
        "در ایران تعطیل رسمی است؛ مردم این روز را بیرون از خانه و در طبیعت می‌گذرانند.",
    ),
    ("روز جمهوری اسلامی", "دوازدهم فروردین روز جمهوری اسلامی و در ایران تعطیل رسمی است."),
    (
        "تعطیلات چهاردهم و پانزدهم خرداد",
        "چهاردهم و پانزدهم خرداد در ایران تعطیل رسمی‌اند: "
        "چهاردهم خرداد سالگرد درگذشت امام خمینی و پانزدهم خرداد سالگرد قیام پانزده خرداد است.",
    ),
    ("بیست‌ودوم بهمن", "بیست‌ودوم بهمن سالگرد پیروزی انقلاب اسلامی ایران و تعطیل رسمی است."),
    ("روز ملی شدن صنعت نفت", "بیست‌ونهم اسفند، روز ملی شدن صنعت نفت ایران، تعطیل رسمی است."),
    (
        "شب یلدا",
        "شب یلدا، بلندترین شب سال، شب آخرین روز آذر است که به اول دی می‌رسد. "
        "خانواده‌ها این شب را با هم می‌گذرانند، انار و هندوانه می‌خورند و فال حافظ می‌گیرند.",
    ),
    (
        "چهارشنبه‌سوری",
        "چهارشنبه‌سوری شب آخرین چهارشنبهٔ سال، یعنی غروب سه‌شنبهٔ پایانی اسفند، "
        "است که مردم در آن آتش روشن می‌کنند و از روی آن می‌پرند.",
    ),
    (
        "تعطیلات مذهبی و تقویم قمری",
        "تعطیلات مذهبی ایران بر پایهٔ تقویم هجری قمری‌اند و چون "
        "سال قمری حدود یازده روز از سال خورشیدی کوتاه‌تر است، هر سال حدود یازده روز زودتر "
        "در تقویم خورشیدی می‌آیند.",
    ),
    ("تعطیل آخر هفته در ایران", "در ایران جمعه روز تعطیل هفته است و هفته از شنبه آغاز می‌شود."),
    (
        "سال کبیسه در تقویم خورشیدی",
        "سال هجری خورشیدی ۳۶۵ روز است و در سال‌های کبیسه ۳۶۶ روز؛ "
        "روز اضافهٔ سال کبیسه به اسفند افزوده می‌شود و اسفند آن سال ۳۰ روز دارد.",
    ),
)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "، ".join(items[:-1]) + " و " + items[-1]


def country_passages(tables: Path) -> Iterator[Passage]:
    rows = read_table(tables / "countries.tsv", ("country",), ("capital", "continent", "currency"))
    for row in rows:
        cells = row.cells
        name = cells["country"]
        sentences = [f"{name} کشوری عضو سازمان ملل متحد است"]
        if cells["continent"]:
            sentences[0] = f"{name} کشوری در قارهٔ {cells['continent']} است"
        if cells["capital"]:
            sentences.append(f"پایتخت {name} {cells['capital']} است")
        if cells["currency"]:
            sentences.append(f"واحد پول {name} {cells['currency']} است")
        yield Passage(f"country:{name}", name, ". ".join(sentences) + ".", "countries", "geography")


def province_passages(tables: Path) -> Iterator[Passage]:
    cities = read_table(tables / "cities.tsv", ("city", "province"))
    by_province: dict[str, list[str]] = {}
    for row in cities:
        by_province.setdefault(row.cells["province"], []).append(row.cells["city"])
    for row in read_table(tables / "provinces.tsv", ("province", "centre")):
        name, centre = row.cells["province"], row.cells["centre"]
        text = f"استان {name} یکی از سی‌ویک استان ایران است و مرکز آن شهر {centre} است."
        others = [c for c in by_province.get(name, []) if c != centre][:6]
        if len(others) == 1:
            text += f" {others[0]} نیز از شهرهای بزرگ این استان است."
        elif others:
            text += f" {_join(others)} از دیگر شهرهای بزرگ این استان‌اند."
        yield Passage(f"province:{name}", f"استان {name}", text, "provinces", "geography")


def city_passages(tables: Path) -> Iterator[Passage]:
    centres = {
        r.cells["centre"]: r.cells["province"]
        for r in read_table(tables / "provinces.tsv", ("province", "centre"))
    }
    for row in read_table(tables / "cities.tsv", ("city", "province")):
        city, province = row.cells["city"], row.cells["province"]
        text = f"{city} یکی از شهرهای بزرگ ایران است و در استان {province} قرار دارد."
        if centres.get(city) == province:
            text += f" {city} مرکز استان {province} است."
        yield Passage(f"city:{city}", f"شهر {city}", text, "cities", "geography")


def calendar_passages() -> Iterator[Passage]:
    for index, (month, season, days) in enumerate(MONTHS):
        text = (
            f"{month} ماه {ORDINALS[index]} سال در تقویم هجری خورشیدی است. این ماه در فصل "
            f"{season} است و {days} روز دارد."
        )
        yield Passage(f"calendar:month:{month}", f"ماه {month}", text, "calendar", "calendar")
    for index, day in enumerate(WEEKDAYS):
        following = WEEKDAYS[(index + 1) % 7]
        text = (
            f"{day} روز {ORDINALS[index]} هفته در تقویم ایران است و روز پس از آن {following} است."
        )
        yield Passage(f"calendar:weekday:{day}", f"روز {day}", text, "calendar", "calendar")
    for title, text in CALENDAR:
        yield Passage(f"calendar:{title}", title, text, "calendar", "calendar")


def conversation_passages(directory: Path) -> Iterator[Passage]:
    """The first question and answer of each hand-written conversation."""
    for path in sorted(directory.glob("*.jsonl")):
        for item in read_jsonl(path):
            if not isinstance(item, tuple):
                continue
            number, row = item
            domain = str(row.get("domain") or path.stem)
            messages = row.get("messages") or []
            if domain in NO_KNOWLEDGE_DOMAINS or len(messages) < 2:
                continue
            question, answer = messages[0].get("content"), messages[1].get("content")
            if isinstance(question, str) and isinstance(answer, str):
                pid = f"conversation:{path.stem}:{number}"
                yield Passage(pid, question, answer, "conversations", domain)


def hafez_passages() -> Iterator[Passage]:
    """Each ghazal in passages of three beyts (titled by number and opening half-line), and
    its prose reading."""
    for poem in load_poems():
        opening = poem.lines[0]
        title = f"غزل {poem.number} حافظ: {opening}"
        step = 2 * BEYTS_PER_PASSAGE
        for part, start in enumerate(range(0, len(poem.lines), step), start=1):
            text = "\n".join(poem.lines[start : start + step])
            yield Passage(f"hafez:{poem.number}:{part}", title, text, "hafez", "hafez")
        if poem.interpretation:
            yield Passage(
                f"hafez:{poem.number}:reading",
                f"تعبیر {title}",
                poem.interpretation,
                "hafez",
                "hafez",
            )


def handwritten_passages(directory: Path) -> Iterator[Passage]:
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            yield Passage(row["id"], row["title"], row["text"], "handwritten", row["domain"])


def build_knowledge(
    tables: Path,
    conversations: Path,
    handwritten: Path,
    normalize: Callable[[str], str],
    hafez: bool = True,
) -> list[Passage]:
    """Every passage, normalized, in a fixed order (the file is byte-identical on a rerun)."""
    parts = [
        country_passages(tables),
        province_passages(tables),
        city_passages(tables),
        calendar_passages(),
        conversation_passages(conversations),
        hafez_passages() if hafez else iter(()),
        handwritten_passages(handwritten),
    ]
    passages, seen = [], set()
    for part in parts:
        for p in part:
            if p.id in seen:
                raise ValueError(f"knowledge passage id {p.id!r} repeats")
            seen.add(p.id)
            title, text = normalize(p.title), normalize(p.text)
            passages.append(Passage(p.id, title, text, p.source, p.domain))
    return passages


def knowledge_counts(passages: list[Passage]) -> dict[str, object]:
    """What the manifest says of the knowledge base."""
    return {
        "passages": len(passages),
        "sources": dict(sorted(Counter(p.source for p in passages).items())),
        "domains": dict(sorted(Counter(p.domain for p in passages).items())),
    }


def knowledge_jsonl(passages: list[Passage]) -> bytes:
    return "".join(json.dumps(p.as_dict(), ensure_ascii=False) + "\n" for p in passages).encode(
        "utf-8"
    )
