"""Check hand-written knowledge passage files against STYLE.md before they enter the corpus.

Usage: python datasets/sources/knowledge/check.py FILE.jsonl [FILE.jsonl ...]
Exit 1 with `file:line: problem` lines when anything is wrong; prints a summary otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ARABIC_ONLY = re.compile("[يكۀة٤٥٦]")
LATIN_DIGIT = re.compile("[0-9]")
PERSIAN_LETTER = re.compile("[\u0600-\u06ff]")
SENTENCE_END = re.compile(r"[.!؟?]+(?:\s|$)")
KEYS = {"id", "domain", "title", "text"}
DOMAINS = (
    "health_sleep",
    "cooking_food",
    "study_learning",
    "money_shopping",
    "technology",
    "travel_iran",
    "science_nature",
    "culture_holidays",
)
TITLE_WORDS = (1, 10)
TEXT_WORDS = (12, 120)
MAX_SENTENCES = 5


def _key(text: str) -> str:
    return re.sub(r"[\s\u200c.،؛؟?!«»:()\-]+", "", text)


def check_row(row: object, domain: str, number: int) -> list[str]:
    """The problems of one passage (empty when it follows the guide)."""
    if not isinstance(row, dict) or set(row) != KEYS:
        keys = sorted(row) if isinstance(row, dict) else type(row).__name__
        return [f"keys must be {sorted(KEYS)}, got {keys}"]
    problems = []
    if not all(isinstance(row[k], str) and row[k].strip() for k in KEYS):
        return ["every value must be a non-empty string"]
    if row["domain"] != domain:
        problems.append(f"domain {row['domain']!r} != file name {domain!r}")
    if row["id"] != f"{domain}-{number:04d}":
        problems.append(f"id {row['id']!r} should be {domain}-{number:04d}")
    title, text = row["title"], row["text"]
    if not TITLE_WORDS[0] <= len(title.split()) <= TITLE_WORDS[1] or title.endswith(("؟", "?")):
        problems.append(f"title should be 1-10 words, not a question: {title!r}")
    words = len(text.split())
    if not TEXT_WORDS[0] <= words <= TEXT_WORDS[1]:
        problems.append(f"text has {words} words (allowed {TEXT_WORDS}): {text[:40]!r}")
    if len(SENTENCE_END.findall(text)) > MAX_SENTENCES:
        problems.append(f"text has over {MAX_SENTENCES} sentences: {text[:40]!r}")
    for part in (title, text):
        if ARABIC_ONLY.search(part):
            problems.append(f"Arabic letter in {part[:40]!r}")
        if LATIN_DIGIT.search(part):
            problems.append(f"Latin digit in {part[:40]!r}")
        if not PERSIAN_LETTER.search(part):
            problems.append(f"no Persian text in {part[:40]!r}")
    return problems


def check(paths: list[Path]) -> int:
    problems: list[str] = []
    seen_text: dict[str, str] = {}
    seen_title: dict[str, str] = {}
    for path in paths:
        rows = 0
        if path.stem not in DOMAINS:
            problems.append(f"{path}: file name is not one of {DOMAINS}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: invalid JSON ({error})")
                continue
            rows += 1
            found = check_row(row, path.stem, number)
            problems.extend(f"{where}: {p}" for p in found)
            if found:
                continue
            for seen, key in ((seen_text, _key(row["text"])), (seen_title, _key(row["title"]))):
                if key in seen:
                    problems.append(f"{where}: repeats {seen[key]}")
                else:
                    seen[key] = where
        print(f"{path}: {rows} passages")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(check([Path(arg) for arg in sys.argv[1:]]))
