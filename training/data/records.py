"""What sources yield: converted examples, or rows that could not be read."""

from __future__ import annotations

from dataclasses import dataclass

from persian_chat.chat_format import Conversation


@dataclass(frozen=True)
class Example:
    """One conversation and where it came from.

    `group` keeps related conversations (e.g. several questions about one poem) on the same
    side of the train/test split; None means "group by the user's text".
    """

    conversation: Conversation
    origin: str
    group: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A row that could not be turned into an example; `origin` is `path:line`."""

    origin: str
    problem: str
