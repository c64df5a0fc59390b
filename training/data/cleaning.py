"""Cleaning rules for prepared conversations: social-text noise, length, script, blocklist,
duplicates. Each rule returns a reason string when a conversation must be dropped, so the
manifest can count what was removed and why.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from persian_chat.chat_format import Conversation
from persian_chat.errors import InputError
from persian_chat.normalize import PersianNormalizer, strip_invisible

_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"[\W_]+")


def remove_noise(text: str) -> str:
    """Strip what social text carries and a chat model should not learn: HTML entities, URLs,
    e-mail addresses, @mentions, the # of hashtags (their words stay), invisible marks."""
    text = html.unescape(html.unescape(text))
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub(lambda m: m.group(1).replace("_", " "), text)
    return strip_invisible(text)


def clean_conversation(conversation: Conversation, normalizer: PersianNormalizer) -> Conversation:
    """Noise removal then normalization of every turn."""
    return {
        "messages": [
            {"role": m["role"], "content": normalizer.normalize(remove_noise(m["content"]))}
            for m in conversation["messages"]
        ]
    }


def _dialogue(conversation: Conversation) -> list[str]:
    """User and assistant texts (the system prompt is ours, not data)."""
    return [m["content"] for m in conversation["messages"] if m["role"] != "system"]


def is_persian_letter(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff" or "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufeff"


def persian_ratio(text: str) -> float:
    """Share of letters written in Persian/Arabic script (1.0 for text with no letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(map(is_persian_letter, letters)) / len(letters)


@dataclass(frozen=True)
class Thresholds:
    min_chars: int = 2
    max_chars: int = 4000
    min_persian_ratio: float = 0.6


def quality_problem(conversation: Conversation, limits: Thresholds) -> str | None:
    """The first rule a cleaned conversation breaks, or None if it may stay."""
    turns = _dialogue(conversation)
    if any(not turn for turn in turns):
        return "empty"
    if any(not _WORD.search(turn) for turn in turns):
        return "no_text"  # emoji-only or punctuation-only
    if any(len(turn) < limits.min_chars for turn in turns):
        return "too_short"
    if any(len(turn) > limits.max_chars for turn in turns):
        return "too_long"
    if persian_ratio(" ".join(turns)) < limits.min_persian_ratio:
        return "not_persian"
    return None


class Blocklist:
    """Offensive words and phrases, matched on whole words after the same normalization.

    One entry per line; `#` starts a comment. Words are compared after splitting on
    everything that is not a letter or digit (ZWNJ included), so «احمق‌ها» matches «احمق».
    """

    def __init__(self, entries: Iterable[str], normalizer: PersianNormalizer) -> None:
        self.words: set[str] = set()
        self.phrases: list[str] = []
        for entry in entries:
            tokens = _WORD.findall(normalizer.normalize(entry).casefold())
            if len(tokens) == 1:
                self.words.add(tokens[0])
            elif tokens:
                self.phrases.append(" " + " ".join(tokens) + " ")

    @classmethod
    def from_file(cls, path: Path, normalizer: PersianNormalizer) -> Blocklist:
        if not path.is_file():
            raise InputError(
                str(path),
                None,
                "blocklist file not found (run from the persian-chat checkout or pass --blocklist)",
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(str(path), None, f"not valid UTF-8: {exc.reason}") from None
        entries = [line.split("#", 1)[0].strip() for line in lines]
        return cls([e for e in entries if e], normalizer)

    def __len__(self) -> int:
        return len(self.words) + len(self.phrases)

    def matches(self, text: str) -> bool:
        tokens = _WORD.findall(text.casefold())
        if self.words.intersection(tokens):
            return True
        joined = " " + " ".join(tokens) + " "
        return any(phrase in joined for phrase in self.phrases)

    def offends(self, conversation: Conversation) -> bool:
        return any(self.matches(turn) for turn in _dialogue(conversation))


def exact_key(conversation: Conversation) -> tuple[tuple[str, str], ...]:
    """Identity of a conversation as given (before any cleaning)."""
    return tuple(
        (m["role"], m["content"]) for m in conversation["messages"] if m["role"] != "system"
    )


def normalized_key(conversation: Conversation) -> str:
    """Identity after cleaning, ignoring case, punctuation, spacing and ZWNJ."""
    return "\x1f".join(_NON_WORD.sub("", turn).casefold() for turn in _dialogue(conversation))


def split_group(conversation: Conversation) -> str:
    """Default split group: the first user turn, normalized like `normalized_key`, so that
    conversations opening with the same question (from two files, or going on differently)
    stay on one side of the split."""
    first = next(m["content"] for m in conversation["messages"] if m["role"] == "user")
    return _NON_WORD.sub(" ", first).casefold().strip()
