"""Read the small project-written TSV tables that the task generators turn into conversations.

Tab-separated (Persian text has commas, never tabs), a header row, `#` comment lines and blank
lines allowed. A table is part of the source code of the corpus: any defect stops the run
with `file:line`, instead of being skipped like a bad row of user data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from persian_chat.errors import InputError
from persian_chat.training.data.readers import read_utf8_lines


@dataclass(frozen=True)
class TableRow:
    """One row: where it is (for messages and origins) and its cells by column name."""

    path: Path
    line: int
    cells: dict[str, str]

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.line}"


def read_table(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> list[TableRow]:
    """Rows of a TSV table; `required` cells must be non-empty, `optional` ones may be empty."""
    rows: list[TableRow] = []
    header: list[str] | None = None
    for number, raw in enumerate(read_utf8_lines(path), start=1):
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split("\t")]
        if header is None:
            header = fields
            missing = [c for c in (*required, *optional) if c not in header]
            if missing:
                raise InputError(str(path), number, f"missing column(s) {', '.join(missing)}")
            continue
        if len(fields) != len(header):
            raise InputError(str(path), number, f"{len(fields)} fields, header has {len(header)}")
        cells = dict(zip(header, fields, strict=True))
        empty = [c for c in required if not cells[c]]
        if empty:
            raise InputError(str(path), number, f"empty {', '.join(empty)}")
        rows.append(TableRow(path, number, cells))
    if header is None:
        raise InputError(str(path), None, "empty table (no header)")
    return rows


def unique(rows: Sequence[TableRow], column: str) -> None:
    """Stop at the first repeated value of `column` (a repeated entity would be two groups)."""
    seen: dict[str, int] = {}
    for row in rows:
        value = row.cells[column]
        if not value:  # an optional cell left empty names no entity
            continue
        if value in seen:
            raise InputError(
                str(row.path), row.line, f"{column} {value!r} repeats line {seen[value]}"
            )
        seen[value] = row.line
