from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.errors import InputError
from persian_chat.training.data.tables import read_table, unique


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_rows_skipping_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# a comment\ncountry\tcapital\tcurrency\n\nایران\tتهران\t\n# x\nژاپن\tتوکیو\tین\n",
    )
    rows = read_table(path, ("country", "capital"), ("currency",))
    assert [r.cells for r in rows] == [
        {"country": "ایران", "capital": "تهران", "currency": ""},
        {"country": "ژاپن", "capital": "توکیو", "currency": "ین"},
    ]
    assert [r.origin for r in rows] == [f"{path}:4", f"{path}:6"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("country\tcapital\nایران\n", r"t\.tsv:2: 1 fields, header has 2"),
        ("country\tcapital\nایران\t\n", r"t\.tsv:2: empty capital"),
        ("country\tcity\nایران\tتهران\n", r"t\.tsv:1: missing column\(s\) capital"),
        ("# only a comment\n", r"t\.tsv: empty table"),
    ],
)
def test_defects_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_table(write(tmp_path, text), ("country", "capital"))


def test_unique_names_the_repeated_line(tmp_path: Path) -> None:
    path = write(tmp_path, "country\tcapital\nایران\tتهران\nعراق\tبغداد\nایران\tاصفهان\n")
    rows = read_table(path, ("country", "capital"))
    unique(rows, "capital")
    with pytest.raises(InputError, match=r"t\.tsv:4: country 'ایران' repeats line 2"):
        unique(rows, "country")
