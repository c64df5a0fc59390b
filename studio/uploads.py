"""An uploaded data file checked before anything is kept: its size, encoding, format and
columns, with a preview of its first rows.

Problems are told in Persian with the line they are on, and nothing is written for a bad
file. The file is read with prepare's own readers (training/data/readers.py), so the studio
and `persian-chat prepare` accept and refuse the same files. Rows are read one at a time and
only the first few are kept, so a 50 MB file of short rows costs memory for a preview, not
for its millions of rows (the UI runs this in a worker thread: it takes seconds).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persian_chat.errors import InputError
from persian_chat.persian_numbers import persian_digits
from persian_chat.training.data.readers import read_rows
from persian_chat.training.data.records import BadRow

SUFFIXES = (".csv", ".jsonl", ".json")
PREVIEW_ROWS = 5
COLUMN_ROWS = 100  # rows whose keys make up the columns offered for mapping
BAD_ROW_EXAMPLES = 5
MIB = 1024 * 1024
# column names a question/answer file is likely to use, first match wins
QUESTION_NAMES = ("question", "prompt", "input", "instruction", "پرسش", "سوال", "سؤال")
ANSWER_NAMES = ("answer", "response", "output", "completion", "پاسخ", "جواب")


class UploadError(ValueError):
    """A file the studio refuses; `message` is Persian and names the line when there is one."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        where = f" (خط {persian_digits(line)})" if line is not None else ""
        self.message = message + where
        super().__init__(self.message)


@dataclass
class Preview:
    name: str
    format: str  # "qa" (question and answer columns) or "chat" (a messages list per row)
    columns: list[str]
    rows: list[dict[str, str]]  # the first rows, values as short text
    row_count: int
    bad_rows: list[str] = field(default_factory=list)  # "line: problem", prepare drops them
    bad_row_count: int = 0
    guess: dict[str, str] = field(default_factory=dict)  # column mapping suggested


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _guess(columns: list[str], names: tuple[str, ...], fallback: int) -> str:
    lowered = {c.strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return columns[fallback] if len(columns) > fallback else ""


def megabytes(size: int) -> str:
    """A size in MB with one decimal, rounded up: a file one byte over 50 MB is «۵۰٫۱»."""
    tenths = math.ceil(size * 10 / MIB)
    return persian_digits(f"{tenths // 10}" + (f"٫{tenths % 10}" if tenths % 10 else ""))


def _problem(exc: InputError) -> UploadError:
    problem = exc.problem
    if problem.startswith("not valid UTF-8"):
        return UploadError("کدگذاری پرونده UTF-8 نیست؛ آن را با کدگذاری UTF-8 ذخیره کنید", exc.line)
    if problem == "malformed JSON: nested too deep":
        return UploadError("JSON بیش از اندازه تودرتو است", exc.line)
    if problem.startswith("malformed JSON"):
        return UploadError(f"JSON نادرست است: {problem.removeprefix('malformed JSON: ')}", exc.line)
    if problem.startswith("unreadable CSV"):
        return UploadError(
            "CSV خوانده نشد: خانه‌ای بیش از اندازه بلند است یا نویسه‌ی نامعتبر دارد", exc.line
        )
    if problem.startswith("expected a JSON array"):
        return UploadError("پروندهٔ JSON باید آرایه‌ای از شیءها باشد", exc.line)
    return UploadError(f"پرونده خوانده نشد: {problem}", exc.line)


def inspect_upload(name: str, data: bytes, max_bytes: int) -> Preview:
    """Check an upload and preview it; UploadError for a file that cannot be used."""
    suffix = Path(name).suffix.lower()
    if len(data) > max_bytes:
        raise UploadError(
            f"حجم پرونده {megabytes(len(data))} مگابایت است؛ بیشترین حجم "
            f"پذیرفتنی {megabytes(max_bytes)} مگابایت است"
        )
    if suffix not in SUFFIXES:
        raise UploadError(
            f"نوع پروندهٔ «{suffix or name}» پشتیبانی نمی‌شود؛ CSV، JSONL یا JSON بفرستید"
        )
    if not data.strip():
        raise UploadError("پرونده خالی است", 1)
    with tempfile.TemporaryDirectory(prefix="persian-chat-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            rows: list[dict[str, Any]] = []  # the first COLUMN_ROWS good rows
            row_count = bad_count = 0
            bad: list[str] = []
            for item in read_rows(path):
                if isinstance(item, BadRow):
                    bad_count += 1
                    if len(bad) < BAD_ROW_EXAMPLES:
                        line = item.origin.removeprefix(str(path)).lstrip(":#")
                        bad.append(f"{persian_digits(line)}: {item.problem}")
                    continue
                row_count += 1
                if len(rows) < COLUMN_ROWS:
                    rows.append(item[1])
        except InputError as exc:
            raise _problem(exc) from None
    if not rows:
        raise UploadError("پرونده هیچ سطر داده‌ای ندارد", 2 if suffix == ".csv" else 1)
    if all(isinstance(row.get("messages"), list) for row in rows[:PREVIEW_ROWS]):
        preview_rows = [
            {
                "messages": _short(
                    " | ".join(
                        str(m.get("content", "")) for m in row["messages"] if isinstance(m, dict)
                    )
                )
            }
            for row in rows[:PREVIEW_ROWS]
        ]
        return Preview(name, "chat", ["messages"], preview_rows, row_count, bad, bad_count)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if len(columns) < 2:
        header = "، ".join(f"«{c}»" for c in columns) or "هیچ ستونی"
        raise UploadError(
            f"ستون‌های پرسش و پاسخ پیدا نشد: سرآیند فقط {header} دارد؛ دو ستون لازم است", 1
        )
    preview = [{c: _short(row.get(c, "")) for c in columns} for row in rows[:PREVIEW_ROWS]]
    question = _guess(columns, QUESTION_NAMES, 0)
    answer = _guess([c for c in columns if c != question], ANSWER_NAMES, 0)
    return Preview(
        name,
        "qa",
        columns,
        preview,
        row_count,
        bad,
        bad_count,
        {"question": question, "answer": answer},
    )


def check_mapping(preview: Preview, question: str, answer: str) -> dict[str, str]:
    """The column mapping prepare gets; refused when a column is missing or used twice."""
    if preview.format == "chat":
        return {"format": "chat"}
    for role, column in (("پرسش", question), ("پاسخ", answer)):
        if column not in preview.columns:
            raise UploadError(f"ستون {role} («{column}») در سرآیند پرونده نیست", 1)
    if question == answer:
        raise UploadError("ستون پرسش و ستون پاسخ باید دو ستون متفاوت باشند")
    return {"format": "qa", "question": question, "answer": answer}
