from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from persian_chat.errors import InputError
from persian_chat.training.data.knowledge_questions import evaluated_passages
from persian_chat.training.data.task_passages import DOMAIN, passages_examples


def _write(tables: Path, lines: list[str]) -> None:
    tables.mkdir()
    reading = tables.parent / "reading"
    reading.mkdir()
    (reading / "health_sleep.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_question_is_grouped_by_the_passage_that_answers_it(tmp_path: Path) -> None:
    row = {
        "passage_id": "health_sleep-0002",
        "question": "نوجوونا چند ساعت باید بخوابن؟",
        "answer": "۸ تا ۱۰ ساعت",
        "reply": "نوجوانان به ۸ تا ۱۰ ساعت خواب در شبانه‌روز نیاز دارند.",
    }
    _write(tmp_path / "tables", [json.dumps(row, ensure_ascii=False)])
    (example,) = passages_examples(tmp_path / "tables")
    assert example.group == "health_sleep-0002" and example.domain == DOMAIN
    assert example.expected == "۸ تا ۱۰ ساعت"
    assert [m["content"] for m in example.conversation["messages"]] == [
        row["question"],
        row["reply"],
    ]


def test_a_bad_line_names_its_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "tables", ['{"passage_id": "x", "question": "q؟"}', "{"])
    with pytest.raises(InputError) as caught:
        list(passages_examples(tmp_path / "tables"))
    assert caught.value.line == 1 and caught.value.path.endswith("health_sleep.jsonl")


def test_the_committed_questions_pass_their_checker(repo: Path) -> None:
    """check.py: answers copied from their passage, replies containing them, and no
    question about a passage the evaluation asks about."""
    files = sorted((repo / "datasets/sources/reading").glob("*.jsonl"))
    assert len(files) == 8
    done = subprocess.run(
        [sys.executable, "datasets/sources/reading/check.py", *map(str, files)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    asked = {
        json.loads(line)["passage_id"]
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert len(asked) > 500 and not asked & evaluated_passages(repo / "datasets/sources/eval")
