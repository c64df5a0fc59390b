"""What sources yield: converted examples, or rows that could not be read."""

from __future__ import annotations

from dataclasses import dataclass

from persian_chat.chat_format import Conversation


@dataclass(frozen=True)
class Example:
    """One conversation and where it came from.

    `group` keeps related conversations (e.g. several questions about one poem) on the same
    side of the train/test split; None means "group by the user's text". `domain` tags the
    topic (counted in the manifest); `expected` is the one short correct answer of a task row
    (a capital, a label, a date), kept for exact-match evaluation.
    """

    conversation: Conversation
    origin: str
    group: str | None = None
    domain: str | None = None
    expected: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A row that could not be turned into an example; `origin` is `path:line`."""

    origin: str
    problem: str


def single_turn(user: str, assistant: str) -> Conversation:
    """A one-question conversation (what every generated task row is)."""
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }
