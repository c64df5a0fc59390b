"""The studio's records on both databases it supports: SQLite (the default) and PostgreSQL
(a throwaway cluster), through the same SQLAlchemy queries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from persian_chat.studio.store import Store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'studio.db'}"
    else:
        database: str = request.getfixturevalue("postgres_database")
        url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    opened = Store(url)
    yield opened
    opened.close()


def test_datasets_jobs_versions_and_samples_round_trip(store: Store) -> None:
    mapping = {"format": "qa", "question": "پرسش", "answer": "پاسخ"}
    dataset_id = store.add_dataset(
        {
            "sha256": "a" * 64,
            "name": "پرسش‌ها.csv",
            "mapping": mapping,
            "directory": "/tmp/x",
            "counts": {"kept": 40},
        }
    )
    found = store.find_dataset("a" * 64, mapping)
    assert found is not None and found["id"] == dataset_id and found["counts"] == {"kept": 40}
    assert store.find_dataset("a" * 64, {"format": "chat"}) is None
    job_id = store.add_job(
        {
            "dataset_id": dataset_id,
            "template": "support",
            "recipe": {"steps": 4},
            "directory": "/tmp/job",
        }
    )
    assert store.update_job(job_id, expect=("queued",), status="running", stage="train")
    assert not store.update_job(job_id, expect=("queued",), status="running")  # taken once
    assert [j["id"] for j in store.jobs_with("running")] == [job_id]
    version_id = store.add_version(
        {
            "name": "support-v1",
            "job_id": job_id,
            "dataset_sha256": "a" * 64,
            "recipe": {"steps": 4},
            "evaluation": {"perplexity": 3.5},
            "parity": {"passed": True},
            "checkpoint": "/c",
            "served": "/s",
        }
    )
    version = store.version_of_job(job_id)
    assert version is not None and version["id"] == version_id
    assert version["evaluation"] == {"perplexity": 3.5}
    store.add_samples(10.0, {"support-v1": {"requests": 3}})
    assert store.samples(5.0)[0]["values"] == {"requests": 3} and store.samples(11.0) == []
