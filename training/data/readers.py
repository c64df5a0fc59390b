"""Readers for local JSONL, CSV and JSON files that report problems by file and line.

File-level problems (missing file, not UTF-8, missing CSV column, a CSV the csv module
cannot read further) raise InputError; a bad row is yielded as BadRow so the caller decides
between --strict and skip-and-report. JSONL and CSV are read line by line, so a large file
costs memory for one row at a time (the studio inspects 50 MB uploads with them).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from persian_chat.errors import InputError
from persian_chat.training.data.records import BadRow

Row = tuple[int, dict[str, Any]]


def iter_utf8_lines(path: Path) -> Iterator[str]:
    """Decode `path` line by line so an encoding error names its line."""
    if not path.is_file():
        raise InputError(str(path), None, "file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    str(path), number, f"not valid UTF-8 (byte {exc.start}: {exc.reason})"
                ) from None


def read_utf8_lines(path: Path) -> list[str]:
    """Every line of `path`, decoded (InputError names the line that is not UTF-8)."""
    return list(iter_utf8_lines(path))


def read_jsonl(path: Path) -> Iterator[Row | BadRow]:
    for number, line in enumerate(iter_utf8_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(f"{path}:{number}", f"malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            yield BadRow(f"{path}:{number}", "malformed JSON: nested too deep")
            continue
        if not isinstance(obj, dict):
            yield BadRow(f"{path}:{number}", f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield number, obj


def read_csv(path: Path, required: Sequence[str]) -> Iterator[Row | BadRow]:
    reader = csv.DictReader(iter_utf8_lines(path))
    try:
        header = reader.fieldnames or []
        missing = [column for column in required if column not in header]
        if missing:
            found = ", ".join(header)
            raise InputError(
                str(path), 1, f"missing column(s) {', '.join(missing)}; header has {found}"
            )
        for row in reader:
            number = reader.line_num
            if None in row:  # more fields than the header
                fields = len(header) + len(row[None])
                yield BadRow(f"{path}:{number}", f"{fields} fields, header has {len(header)}")
                continue
            yield number, dict(row)
    except csv.Error as exc:  # a field over csv's size limit, a NUL byte: the reader stops
        line = reader.line_num + 1  # the line it failed on was not counted yet
        raise InputError(str(path), line, f"unreadable CSV ({exc})") from None


def read_json(path: Path) -> Iterator[Row | BadRow]:
    """A JSON array of objects (or {"data": [...]}) ; rows are numbered from 1 by position."""
    text = "".join(read_utf8_lines(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(str(path), None, "malformed JSON: nested too deep") from None
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
