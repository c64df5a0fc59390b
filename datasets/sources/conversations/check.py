"""Check hand-written conversation files against STYLE.md before they enter the corpus.

Usage: python datasets/sources/conversations/check.py FILE.jsonl [FILE.jsonl ...]
Exit 1 with `file:line: problem` lines when anything is wrong; prints a summary otherwise.
`legacy.jsonl` holds the 323 conversations written before this guide: each of its rows names
one of DOMAINS, and it is exempt from the multi-turn share and from the one rule it predates
(an English-only answer in a translation example).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ARABIC_ONLY = re.compile("[يكۀة٤٥٦]")
LATIN_DIGIT = re.compile("[0-9]")
PERSIAN_LETTER = re.compile("[\u0600-\u06ff]")
SENTENCE_END = re.compile(r"[.!؟?]+(?:\s|$)")
LEGACY = "legacy"
DOMAINS = (
    "greetings_smalltalk",
    "emotions_support",
    "family_relationships",
    "health_sleep",
    "fitness_sports",
    "cooking_food",
    "study_learning",
    "work_career",
    "technology_programming",
    "travel_iran",
    "weather_seasons",
    "culture_holidays",
    "money_shopping",
    "word_meanings",
    "howto_home",
    "dont_know_refusals",
    "writing_help",
    "science_nature",
)


def _key(text: str) -> str:
    return re.sub(r"[\s\u200c.،؛؟?!«»]+", "", text)


def check(paths: list[Path]) -> int:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in paths:
        rows = multi = 0
        turns: Counter[int] = Counter()
        long_answers = 0
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path}:{number}"
            if not line.strip():
                problems.append(f"{where}: empty line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: invalid JSON ({error})")
                continue
            rows += 1
            legacy = path.stem == LEGACY
            if legacy and row.get("domain") not in DOMAINS:
                problems.append(f"{where}: domain {row.get('domain')!r} is not one of DOMAINS")
            if not legacy and row.get("domain") != path.stem:
                problems.append(f"{where}: domain {row.get('domain')!r} != file name {path.stem!r}")
            messages = row.get("messages", [])
            roles = [m.get("role") for m in messages]
            expected = ["user", "assistant"] * (len(messages) // 2)
            if roles != expected or not messages:
                problems.append(f"{where}: roles must alternate user/assistant, got {roles}")
                continue
            users = len(messages) // 2
            turns[users] += 1
            multi += users > 1
            for message in messages:
                text = message.get("content", "")
                if not isinstance(text, str) or not text.strip():
                    problems.append(f"{where}: empty content")
                    continue
                if ARABIC_ONLY.search(text):
                    problems.append(f"{where}: Arabic letter in {text[:40]!r}")
                if LATIN_DIGIT.search(text) and message["role"] == "assistant":
                    problems.append(f"{where}: Latin digit in answer {text[:40]!r}")
                if not PERSIAN_LETTER.search(text) and not (
                    legacy and message["role"] == "assistant"
                ):
                    problems.append(f"{where}: no Persian text in {text[:40]!r}")
                if message["role"] == "assistant" and len(SENTENCE_END.findall(text)) > 5:
                    long_answers += 1
            first = _key(messages[0]["content"])
            if first in seen:
                problems.append(f"{where}: first question repeats {seen[first]}")
            else:
                seen[first] = where
        share = multi / rows if rows else 0.0
        print(
            f"{path}: {rows} conversations, {share:.0%} multi-turn, turns {dict(turns)}, "
            f"{long_answers} answers over 5 sentences"
        )
        if rows and share < 0.25 and path.stem != LEGACY:
            problems.append(f"{path}: multi-turn share {share:.0%} < 25%")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(check([Path(arg) for arg in sys.argv[1:]]))
