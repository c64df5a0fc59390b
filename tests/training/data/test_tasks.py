from __future__ import annotations

from pathlib import Path

from persian_chat.training.data.sources import TASK_NAMES
from persian_chat.training.data.tasks import GENERATORS, TABLES, task_examples, task_tables


def test_every_task_name_has_a_generator_and_its_tables(repo: Path) -> None:
    assert tuple(GENERATORS) == TASK_NAMES == tuple(TABLES)
    tables = repo / "datasets/sources/tables"
    for name in TASK_NAMES:
        assert all(path.is_file() for path in task_tables(name, tables)), name
        first = next(iter(task_examples(name, tables)))
        assert first.group and first.domain, name
