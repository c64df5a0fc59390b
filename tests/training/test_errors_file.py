from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.training.errors_file import read_parts, replace_head, replace_section


def test_each_writer_keeps_the_other_parts(tmp_path: Path) -> None:
    path = tmp_path / "errors.txt"
    replace_section(path, "chat evaluation, label base", "base answers")
    replace_head(path, "# Worst examples\nloss 9")
    replace_section(path, "chat evaluation, label new", "new answers")
    replace_section(path, "chat evaluation, label base", "base answers, again")
    replace_head(path, "# Worst examples\nloss 3")
    head, sections = read_parts(path)
    assert head == "# Worst examples\nloss 3"
    assert sections == {
        "chat evaluation, label base": "base answers, again",
        "chat evaluation, label new": "new answers",
    }
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Worst examples") and text.index("label base") < text.index(
        "label new"
    )


def test_a_file_from_before_sections_is_all_head(tmp_path: Path) -> None:
    path = tmp_path / "errors.txt"
    path.write_text("# Worst 8 test examples\n\nprompt:\nسلام\n", encoding="utf-8")
    replace_section(path, "chat evaluation, label new", "x")
    assert read_parts(path) == (
        "# Worst 8 test examples\n\nprompt:\nسلام",
        {"chat evaluation, label new": "x"},
    )
    replace_head(path, "fresh")
    assert read_parts(path) == ("fresh", {"chat evaluation, label new": "x"})
    assert read_parts(tmp_path / "absent.txt") == ("", {})


def test_a_title_must_fit_on_its_header_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        replace_section(tmp_path / "errors.txt", "two\nlines", "x")
