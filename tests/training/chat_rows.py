"""Small test.jsonl rows in the schema the data work is moving to (`domain`, `expected`),
for the chat evaluation's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from persian_chat.checksums import format_sha256sums, sha256_file


def row(domain: str | None, user: str, answer: str, expected: Any = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    }
    if domain is not None:
        record["domain"] = domain
    if expected is not None:
        record["expected"] = expected
    return record


ROWS = [
    row("greetings_smalltalk", "سلام، خوبی؟", "سلام! ممنون، خوبم."),
    row("greetings_smalltalk", "صبح بخیر", "صبح شما هم بخیر!"),
    row("health_sleep", "شب‌ها خوابم نمی‌برد.", "ساعت خوابتان را ثابت نگه دارید."),
    row("facts_geography", "پایتخت ایران کجاست؟", "پایتخت ایران تهران است.", "تهران"),
    row("facts_geography", "مرکز استان فارس کجاست؟", "شیراز.", "شیراز"),
    row("sentiment", "احساس این نظر چیست؟ «غذا عالی بود»", "مثبت", "مثبت"),
    row("sentiment", "احساس این نظر چیست؟ «خیلی بد بود»", "منفی", "منفی"),
    row("translation", "ترجمه کن: «سلام»", "Hello", None),
    row("translation", "به فارسی ترجمه کن: «Thank you»", "ممنون", None),
    row("arithmetic", "۲ به علاوه ۳ چند می‌شود؟", "۵ می‌شود.", "۵"),
    row("dates_numbers", "عدد دوازده را با رقم بنویس.", "۱۲", "۱۲"),
    row(
        "hafez",
        "مصراع دوم این بیت حافظ چیست؟\n«صلاح کار کجا و من خراب کجا»",
        "ببین تفاوت ره کز کجاست تا به کجا",
    ),
    row(
        "hafez",
        "ادامه این مصراع حافظ را بگو: «دوش دیدم که ملائک در میخانه زدند»",
        "گل آدم بسرشتند و به پیمانه زدند",
    ),
    row("hafez", "پیام این غزل حافظ را در یکی دو جمله بگو:\n\nصلاح کار کجا", "پیامش امید است."),
    {
        "domain": "cooking_food",
        "messages": [
            {"role": "user", "content": "برای شام چه بپزم؟"},
            {"role": "assistant", "content": "یک خوراک ساده مثل عدسی."},
            {"role": "user", "content": "و اگر عدس نداشته باشم؟"},
            {"role": "assistant", "content": "املت هم سریع و خوب است."},
        ],
    },
]


def write_dataset(directory: Path, rows: list[dict[str, Any]] = ROWS) -> Path:
    """test.jsonl from `rows`, a one-row train.jsonl and their SHA256SUMS."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    (directory / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "train.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    digests = {n: sha256_file(directory / n) for n in ("train.jsonl", "test.jsonl")}
    (directory / "SHA256SUMS").write_text(format_sha256sums(digests), encoding="utf-8")
    return directory
