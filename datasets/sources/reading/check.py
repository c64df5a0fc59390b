"""Check hand-written reading questions (questions answered by a knowledge passage).

Each row of `DOMAIN.jsonl` asks about one passage of datasets/sources/knowledge/DOMAIN.jsonl
that the evaluation never asks about (datasets/sources/eval/grounded_*.jsonl), so the model
learns to read the hand-written passages and is measured on others.

Usage: python datasets/sources/reading/check.py FILE.jsonl [FILE.jsonl ...]
Exit 1 with `file:line: problem` lines when anything is wrong; prints a summary otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SOURCES = Path(__file__).resolve().parent.parent
ARABIC_ONLY = re.compile("[يكۀة٤٥٦]")
LATIN_DIGIT = re.compile("[0-9]")
KEYS = {"passage_id", "question", "answer", "reply"}
ANSWER_WORDS = (1, 8)
REPLY_WORDS = (3, 30)


def _key(text: str) -> str:
    return re.sub(r"[\s\u200c.،؛؟?!«»:()\-]+", "", text)


def passages(domain: str) -> dict[str, str]:
    path = SOURCES / "knowledge" / f"{domain}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {row["id"]: row["text"] for row in rows}


def evaluated() -> set[str]:
    ids: set[str] = set()
    for path in sorted((SOURCES / "eval").glob("grounded_*.jsonl")):
        ids |= {json.loads(line)["passage_id"] for line in path.read_text().splitlines()}
    return ids


def check_row(row: object, texts: dict[str, str], held_out: set[str]) -> list[str]:
    """The problems of one question (empty when it is usable)."""
    if not isinstance(row, dict) or set(row) != KEYS:
        keys = sorted(row) if isinstance(row, dict) else type(row).__name__
        return [f"keys must be {sorted(KEYS)}, got {keys}"]
    if not all(isinstance(row[k], str) and row[k].strip() for k in KEYS):
        return ["every value must be a non-empty string"]
    problems = []
    passage = texts.get(row["passage_id"])
    if passage is None:
        return [f"passage {row['passage_id']!r} is not in this domain's knowledge file"]
    if row["passage_id"] in held_out:
        problems.append(f"passage {row['passage_id']} is asked about by the evaluation")
    if _key(row["answer"]) not in _key(passage):
        problems.append(f"answer {row['answer']!r} is not copied from the passage")
    if _key(row["answer"]) not in _key(row["reply"]):
        problems.append(f"reply does not contain the answer {row['answer']!r}")
    if not ANSWER_WORDS[0] <= len(row["answer"].split()) <= ANSWER_WORDS[1]:
        problems.append(f"answer should be {ANSWER_WORDS} words: {row['answer']!r}")
    if not REPLY_WORDS[0] <= len(row["reply"].split()) <= REPLY_WORDS[1]:
        problems.append(f"reply should be {REPLY_WORDS} words: {row['reply'][:40]!r}")
    if not row["question"].endswith("؟"):
        problems.append(f"question should end with «؟»: {row['question'][:40]!r}")
    if _key(row["question"]) in _key(passage):
        problems.append("question is copied from the passage")
    for part in (row["question"], row["answer"], row["reply"]):
        if ARABIC_ONLY.search(part):
            problems.append(f"Arabic letter in {part[:40]!r}")
        if LATIN_DIGIT.search(part):
            problems.append(f"Latin digit in {part[:40]!r}")
    return problems


def check(paths: list[Path]) -> int:
    problems: list[str] = []
    held_out = evaluated()
    seen: dict[str, str] = {}
    for path in paths:
        texts = passages(path.stem)
        rows = 0
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: invalid JSON ({error})")
                continue
            rows += 1
            found = check_row(row, texts, held_out)
            problems.extend(f"{where}: {p}" for p in found)
            key = _key(row["question"]) if not found else ""
            if key and key in seen:
                problems.append(f"{where}: repeats {seen[key]}")
            elif key:
                seen[key] = where
        asked = {json.loads(line)["passage_id"] for line in path.read_text().splitlines() if line}
        free = set(texts) - held_out
        print(f"{path}: {rows} questions on {len(asked & free)} of {len(free)} passages")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(check([Path(arg) for arg in sys.argv[1:]]))
