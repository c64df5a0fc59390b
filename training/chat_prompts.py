"""The chat evaluation's prompt set: held-out conversations of test.jsonl, by category.

A row's category is its `domain` (everyday domains, task domains such as facts_geography,
translation, sentiment, dates_numbers, arithmetic, and hafez); Hafez half-line continuations
get their own category, hafez_continuation, because they are scored by chrF against the true
second half-line. Rows written before domains existed fall back to hafez (they mention Hafez)
or general. The prompt is the conversation up to its last user turn; the last assistant turn
is the reference, and `expected` (a short correct value) when the row has one.

The selection is stratified and deterministic: every category is ordered by a seeded hash of
its rows' text (so it does not depend on file order) and categories take turns, one row at a
time, until the wanted number is reached — equal shares, every category present.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from persian_chat.chat_format import ChatFormatError, Message, validate_conversation
from persian_chat.errors import InputError, UserError
from persian_chat.training.data.hafez_corpus import CONTINUE_PROMPTS

Task = Literal["exact_match", "sentiment", "chrf_translation", "chrf_hafez"]

HAFEZ = "hafez"
HAFEZ_CONTINUATION = "hafez_continuation"
GENERAL = "general"
SENTIMENT = "sentiment"
TRANSLATION = "translation"

_ARABIC_TO_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ۀ": "ه", "ة": "ه"})


@dataclass(frozen=True)
class EvalPrompt:
    line: int  # in test.jsonl, 1-based
    category: str
    messages: list[Message]  # up to and including the last user turn
    reference: str  # the held-out assistant answer
    expected: str | list[str] | None = None

    @property
    def user(self) -> str:
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def task(self) -> Task | None:
        """Which task metric scores this prompt beside the general ones."""
        if self.category == SENTIMENT:
            return "sentiment" if self.expected is not None else None
        if self.category == TRANSLATION:
            return "chrf_translation"
        if self.category == HAFEZ_CONTINUATION:
            return "chrf_hafez"
        return "exact_match" if self.expected is not None else None


def _skeleton(text: str) -> str:
    """Letters only, Arabic letter forms folded: survives normalization (spacing, ZWNJ,
    diacritics, «ادامهٔ» -> «ادامه»), so the raw templates recognise normalized rows."""
    return "".join(c for c in text.translate(_ARABIC_TO_PERSIAN) if c.isalpha())


_CONTINUE_OPENINGS = tuple(_skeleton(p.split("{line}")[0]) for p in CONTINUE_PROMPTS)


def is_hafez_continuation(user_text: str) -> bool:
    """Phrased like training/data/hafez_corpus.py's CONTINUE_PROMPTS: an opening that asks
    for the rest of a half-line, then the half-line in «»."""
    opening = user_text.split("«", 1)[0]
    return "«" in user_text and _skeleton(opening) in _CONTINUE_OPENINGS


def categorize(domain: str | None, user_text: str) -> str:
    if domain in (None, HAFEZ) and is_hafez_continuation(user_text):
        return HAFEZ_CONTINUATION
    if domain:
        return domain
    return HAFEZ if "حافظ" in user_text or "غزل" in user_text else GENERAL


def _expected(value: Any) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ChatFormatError("'expected' must be a string or a list of strings")


def parse_row(row: Any, line: int) -> EvalPrompt:
    conversation = validate_conversation(row)
    messages = conversation["messages"]
    domain = row.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise ChatFormatError("'domain' must be a string")
    prompt = messages[:-1]
    user = next(m["content"] for m in reversed(prompt) if m["role"] == "user")
    return EvalPrompt(
        line=line,
        category=categorize(domain or None, user),
        messages=prompt,
        reference=messages[-1]["content"],
        expected=_expected(row.get("expected")),
    )


def load_prompts(path: Path) -> list[EvalPrompt]:
    """Every row of a chat JSONL file as an evaluation prompt; a bad line stops with file:line."""
    if not path.is_file():
        raise UserError(f"{path}: test set not found (run `persian-chat prepare`)")
    prompts = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                prompts.append(parse_row(json.loads(text), number))
            except json.JSONDecodeError as exc:
                raise InputError(str(path), number, f"malformed JSON: {exc.msg}") from None
            except ChatFormatError as exc:
                raise InputError(str(path), number, str(exc)) from None
    return prompts


def _order_key(prompt: EvalPrompt, seed: int) -> str:
    text = json.dumps([seed, prompt.messages, prompt.reference], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def select_prompts(
    prompts: Iterable[EvalPrompt], total: int, seed: int, scored_min: int = 0
) -> list[EvalPrompt]:
    """`total` prompts (or all there are), categories taking turns so each gets an equal
    share; every category gets at least one even when `total` is smaller than their count.
    A category whose rows are scored by a task metric (exact match, sentiment, chrF) then
    gets at least `scored_min` scored prompts, in the same order, where it has them: its
    figures need more than an equal share to mean anything, and short answers cost little."""
    by_category: dict[str, list[EvalPrompt]] = defaultdict(list)
    for prompt in prompts:
        by_category[prompt.category].append(prompt)
    queues = {
        name: sorted(rows, key=lambda p: _order_key(p, seed))
        for name, rows in sorted(by_category.items())
    }
    chosen: list[EvalPrompt] = []
    depth = 0
    while any(depth < len(rows) for rows in queues.values()):
        for rows in queues.values():
            if depth < len(rows) and (len(chosen) < total or depth == 0):
                chosen.append(rows[depth])
        if len(chosen) >= total:
            break
        depth += 1
    taken = {id(p) for p in chosen}
    for rows in queues.values():
        scored = sum(1 for p in rows if id(p) in taken and p.task is not None)
        for prompt in rows:
            if scored >= scored_min:
                break
            if id(prompt) not in taken and prompt.task is not None:
                chosen.append(prompt)
                taken.add(id(prompt))
                scored += 1
    return sorted(chosen, key=lambda p: (p.category, p.line))
