"""Documents that become knowledge passages: a bot's own texts (prepare's `knowledge_files`,
the studio's knowledge uploads).

- `.txt` and `.md`: split at Markdown headings into sections and at blank lines into
  paragraphs; consecutive paragraphs of a section join into passages of at most
  MAX_PASSAGE_CHARS (a long paragraph is cut at sentence ends). A passage's title is its
  section's heading, or the file's name where the text has none.
- `.jsonl`: one passage per line, {"title", "text"} (and optionally "id", "domain").

Every passage is normalized with the chat data's normalizer. Problems name the file and the
line (a byte that is not UTF-8, a malformed row, a file with no text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from persian_chat.errors import InputError
from persian_chat.knowledge import Passage

SUFFIXES = (".txt", ".md", ".jsonl")
MAX_PASSAGE_CHARS = 600  # about 5 Persian sentences, ~150 tokens: three fit the budget
SOURCE = "uploads"
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?؟。])\s+")
_MARKUP = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+|[*_`]{1,3}")


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a BOM allowed); InputError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(name, line, "not UTF-8 text") from None


def _pieces(paragraph: str) -> Iterator[str]:
    """A paragraph cut at sentence ends into pieces of at most MAX_PASSAGE_CHARS."""
    piece = ""
    for sentence in _SENTENCE_END.split(paragraph):
        if piece and len(piece) + 1 + len(sentence) > MAX_PASSAGE_CHARS:
            yield piece
            piece = ""
        piece = f"{piece} {sentence}".strip()
    if piece:
        yield piece


def _sections(text: str, fallback: str) -> Iterator[tuple[str, int, list[str]]]:
    """(heading, first line, paragraphs) per section of a text or Markdown file."""
    heading, start = fallback, 1
    paragraphs: list[str] = []
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADING.match(line)
        if match or not line.strip():
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if match:
                if paragraphs:
                    yield heading, start, paragraphs
                heading, start, paragraphs = match.group(1) or fallback, number, []
            continue
        current.append(_MARKUP.sub("", line).strip())
    if current:
        paragraphs.append(" ".join(current))
    if paragraphs:
        yield heading, start, paragraphs


def text_passages(text: str, name: str, normalize: Callable[[str], str]) -> list[Passage]:
    """The passages of a .txt or .md document."""
    fallback = Path(name).stem.replace("_", " ").replace("-", " ")
    passages: list[Passage] = []
    for heading, line, paragraphs in _sections(text, fallback):
        chunk = ""
        pieces = [piece for paragraph in paragraphs for piece in _pieces(paragraph)]
        for piece in [*pieces, ""]:
            if chunk and (not piece or len(chunk) + 1 + len(piece) > MAX_PASSAGE_CHARS):
                title, body = normalize(heading), normalize(chunk)
                if body:
                    pid = f"upload:{name}:{line}:{len(passages) + 1}"
                    passages.append(Passage(pid, title or body[:40], body, SOURCE, SOURCE))
                chunk = ""
            chunk = f"{chunk}\n{piece}".strip()
    return passages


def jsonl_passages(text: str, name: str, normalize: Callable[[str], str]) -> list[Passage]:
    """One passage per JSON line: {"title", "text"[, "id", "domain"]}."""
    passages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(name, number, f"malformed JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not all(
            isinstance(row.get(key), str) and row[key].strip() for key in ("title", "text")
        ):
            raise InputError(name, number, 'a passage needs "title" and "text" strings')
        pid = str(row.get("id") or f"upload:{name}:{number}")
        domain = str(row.get("domain") or SOURCE)
        passages.append(
            Passage(pid, normalize(row["title"]), normalize(row["text"]), SOURCE, domain)
        )
    return passages


def document_passages(data: bytes, name: str, normalize: Callable[[str], str]) -> list[Passage]:
    """The passages of one uploaded document; InputError for a file that gives none."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(name, None, f"knowledge files are {', '.join(SUFFIXES)}")
    text = decode(data, name)
    if suffix == ".jsonl":
        passages = jsonl_passages(text, name, normalize)
    else:
        passages = text_passages(text, name, normalize)
    if not passages:
        raise InputError(name, None, "no text to make passages of")
    return passages


def read_knowledge_file(path: Path, normalize: Callable[[str], str]) -> list[Passage]:
    """The passages of a document on disk (prepare's `knowledge_files`); their ids and
    fallback titles use the file's name, problems its whole path."""
    try:
        return document_passages(path.read_bytes(), path.name, normalize)
    except OSError as exc:
        raise InputError(str(path), None, exc.strerror or "cannot be read") from None
    except InputError as exc:
        raise InputError(str(path), exc.line, exc.problem) from None
