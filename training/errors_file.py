"""logs/errors.txt is written by two evaluations: keep each one's part when the other writes.

The file is a head — the perplexity evaluation's worst examples — followed by titled
sections, one per chat-evaluated model (`==> chat evaluation, label base <==`). Each writer
replaces only its own part, atomically; a file from before sections existed is all head.
"""

from __future__ import annotations

import re
from pathlib import Path

from persian_chat.atomic import atomic_write_text

_HEADER = re.compile(r"^==> (.+) <==$")


def header(title: str) -> str:
    return f"==> {title} <=="


def read_parts(path: Path) -> tuple[str, dict[str, str]]:
    """(head, {title: body}) of the file; empty when it does not exist."""
    if not path.is_file():
        return "", {}
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    current = head
    for line in path.read_text(encoding="utf-8").split("\n"):
        match = _HEADER.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
        else:
            current.append(line)
    return "\n".join(head).strip("\n"), {t: "\n".join(b).strip("\n") for t, b in sections.items()}


def _write(path: Path, head: str, sections: dict[str, str]) -> None:
    parts = [head] if head else []
    parts += [f"{header(title)}\n{body}" for title, body in sections.items()]
    atomic_write_text(path, "\n\n".join(parts) + "\n")


def replace_head(path: Path, text: str) -> None:
    """Write the untitled first part, keeping every titled section."""
    _, sections = read_parts(path)
    _write(path, text.strip("\n"), sections)


def replace_section(path: Path, title: str, body: str) -> None:
    """Write one titled section (in place, or appended), keeping the rest of the file."""
    if "\n" in title or _HEADER.match(header(title)) is None:
        raise ValueError(f"bad section title {title!r}")
    head, sections = read_parts(path)
    sections[title] = body.strip("\n")
    _write(path, head, sections)
