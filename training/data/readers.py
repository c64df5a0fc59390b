"""Readers for local JSONL, CSV and JSON files that report problems by file and line.

File-level problems (missing file, not UTF-8, missing CSV column) raise InputError; a bad
row is yielded as BadRow so the caller decides between --strict and skip-and-report.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from persian_chat.errors import InputError
from persian_chat.training.data.records import BadRow

Row = tuple[int, dict[str, Any]]


def read_utf8_lines(path: Path) -> list[str]:
    """Decode `path` line by line so an encoding error names its line."""
    if not path.is_file():
        raise InputError(str(path), None, "file not found")
    lines: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(
                    str(path), number, f"not valid UTF-8 (byte {exc.start}: {exc.reason})"
                ) from None
    return lines


def read_jsonl(path: Path) -> Iterator[Row | BadRow]:
    for number, line in enumerate(read_utf8_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(f"{path}:{number}", f"malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield BadRow(f"{path}:{number}", f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield number, obj


def read_csv(path: Path, required: Sequence[str]) -> Iterator[Row | BadRow]:
    text = "".join(read_utf8_lines(path))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [column for column in required if column not in header]
    if missing:
        raise InputError(
            str(path), 1, f"missing column(s) {', '.join(missing)}; header has {', '.join(header)}"
        )
    for row in reader:
        number = reader.line_num
        if None in row:  # more fields than the header
            fields = len(header) + len(row[None])
            yield BadRow(f"{path}:{number}", f"{fields} fields, header has {len(header)}")
            continue
        yield number, dict(row)


def read_json(path: Path) -> Iterator[Row | BadRow]:
    """A JSON array of objects (or {"data": [...]}) ; rows are numbered from 1 by position."""
    text = "".join(read_utf8_lines(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"malformed JSON: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(str(path), None, 'expected a JSON array of objects (or {"data": [...]})')
    for index, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            yield BadRow(f"{path}#{index}", f"expected an object, got {type(obj).__name__}")
            continue
        yield index, obj


def read_rows(path: Path, required: Sequence[str] = ()) -> Iterator[Row | BadRow]:
    """Dispatch on the file suffix: .jsonl, .csv, .json."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".csv":
        return read_csv(path, required)
    if suffix == ".json":
        return read_json(path)
    raise InputError(
        str(path), None, f"unsupported file type {suffix!r} (use .jsonl, .csv or .json)"
    )
