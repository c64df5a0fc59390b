"""The studio's records: datasets, jobs, model versions and metric samples.

SQLAlchemy Core on a database URL: SQLite in the studio's folder by default, a PostgreSQL
server by setting PERSIAN_CHAT_STUDIO_DATABASE_URL (with its driver installed). Files
(uploads, checkpoints, served models) stay on disk; rows point at them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TypedDict, cast

import sqlalchemy as sa

from persian_chat.studio.status import JobStatus

metadata = sa.MetaData()

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),  # of the uploaded file
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mapping", sa.Text, nullable=False),  # JSON: format and columns
    sa.Column("directory", sa.Text, nullable=False),  # prepared train/test/manifest
    sa.Column("counts", sa.Text, nullable=False),  # JSON: prepare's counts
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("sha256", "mapping"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("template", sa.String(40), nullable=False),
    sa.Column("recipe", sa.Text, nullable=False),  # JSON: the job's whole recipe
    # queued | running | stopping | stopped | interrupted | failed | finished
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("stage", sa.String(20), nullable=False, default=""),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("resume", sa.Boolean, nullable=False, default=False),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("directory", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(80), nullable=False, unique=True),  # the served model id
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("dataset_sha256", sa.String(64), nullable=False),
    sa.Column("recipe", sa.Text, nullable=False),
    sa.Column("evaluation", sa.Text, nullable=False),  # JSON: perplexity (+ chat eval)
    sa.Column("parity", sa.Text, nullable=False),  # JSON: int8 parity from export
    sa.Column("checkpoint", sa.Text, nullable=False),
    sa.Column("served", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

metric_samples = sa.Table(
    "metric_samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("time", sa.Float, nullable=False, index=True),
    sa.Column("model", sa.String(80), nullable=False),
    sa.Column("values", sa.Text, nullable=False),  # JSON: cumulative counters
)

Row = dict[str, Any]  # values to insert or update: column -> value


class DatasetRow(TypedDict):
    id: int
    sha256: str
    name: str
    mapping: dict[str, Any]
    directory: str
    counts: dict[str, Any]
    created: float


class JobRow(TypedDict):
    id: int
    dataset_id: int
    template: str
    recipe: dict[str, Any]
    status: str  # a JobStatus value
    stage: str
    pid: int | None
    resume: bool
    error: str
    directory: str
    created: float
    updated: float


class VersionRow(TypedDict):
    id: int
    name: str
    job_id: int
    dataset_sha256: str
    recipe: dict[str, Any]
    evaluation: dict[str, Any]
    parity: dict[str, Any]
    checkpoint: str
    served: str
    created: float


class SampleRow(TypedDict):
    id: int
    time: float
    model: str
    values: dict[str, Any]


JSON_COLUMNS = frozenset({"mapping", "counts", "recipe", "evaluation", "parity", "values"})


def _row(row: Any) -> Row:
    out = dict(row._mapping)
    for key in JSON_COLUMNS & out.keys():
        out[key] = json.loads(out[key])
    return out


def _encode(values: Row) -> Row:
    return {
        k: json.dumps(v, ensure_ascii=False) if k in JSON_COLUMNS else v for k, v in values.items()
    }


class Store:
    """Small typed queries; every write is its own transaction."""

    def __init__(self, url: str) -> None:
        parsed = sa.engine.make_url(url)
        if parsed.drivername.startswith("sqlite") and parsed.database not in (None, ":memory:"):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: sa.Table, values: Row) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(table.insert().values(**_encode(values)))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def _select(self, query: Any) -> list[Row]:
        with self.engine.connect() as connection:
            return [_row(r) for r in connection.execute(query)]

    def _one(self, table: sa.Table, row_id: int) -> Row | None:
        rows = self._select(table.select().where(table.c.id == row_id))
        return rows[0] if rows else None

    # -- datasets --------------------------------------------------------------------------

    def add_dataset(self, values: Row) -> int:
        return self._insert(datasets, {**values, "created": time.time()})

    def dataset(self, dataset_id: int) -> DatasetRow | None:
        return cast(DatasetRow | None, self._one(datasets, dataset_id))

    def find_dataset(self, sha256: str, mapping: Row) -> DatasetRow | None:
        encoded = json.dumps(mapping, ensure_ascii=False)
        query = datasets.select().where(datasets.c.sha256 == sha256, datasets.c.mapping == encoded)
        rows = self._select(query)
        return cast(DatasetRow, rows[0]) if rows else None

    def datasets(self) -> list[DatasetRow]:
        return cast(
            list[DatasetRow], self._select(datasets.select().order_by(datasets.c.id.desc()))
        )

    # -- jobs ------------------------------------------------------------------------------

    def add_job(self, values: Row) -> int:
        now = time.time()
        return self._insert(
            jobs,
            {
                "status": JobStatus.QUEUED,
                "stage": "",
                "error": "",
                "resume": False,
                **values,
                "created": now,
                "updated": now,
            },
        )

    def job(self, job_id: int) -> JobRow | None:
        return cast(JobRow | None, self._one(jobs, job_id))

    def jobs(self) -> list[JobRow]:
        return cast(list[JobRow], self._select(jobs.select().order_by(jobs.c.id.desc())))

    def jobs_with(self, *statuses: str) -> list[JobRow]:
        query = jobs.select().where(jobs.c.status.in_(statuses)).order_by(jobs.c.id)
        return cast(list[JobRow], self._select(query))

    def update_job(self, job_id: int, expect: tuple[str, ...] = (), **values: Any) -> bool:
        """Update a job; with `expect`, only if its status is one of them (a compare-and-set,
        so two actors never both start or both finish a job)."""
        query = jobs.update().where(jobs.c.id == job_id)
        if expect:
            query = query.where(jobs.c.status.in_(expect))
        with self.engine.begin() as connection:
            result = connection.execute(query.values(**_encode(values), updated=time.time()))
            return bool(result.rowcount)

    # -- versions --------------------------------------------------------------------------

    def add_version(self, values: Row) -> int:
        return self._insert(versions, {**values, "created": time.time()})

    def version(self, version_id: int) -> VersionRow | None:
        return cast(VersionRow | None, self._one(versions, version_id))

    def version_of_job(self, job_id: int) -> VersionRow | None:
        rows = self._select(versions.select().where(versions.c.job_id == job_id))
        return cast(VersionRow, rows[0]) if rows else None

    def versions(self) -> list[VersionRow]:
        return cast(
            list[VersionRow], self._select(versions.select().order_by(versions.c.id.desc()))
        )

    # -- monitoring ------------------------------------------------------------------------

    def add_samples(self, at: float, samples: dict[str, Row]) -> None:
        if not samples:
            return
        rows = [
            _encode({"time": at, "model": model, "values": values})
            for model, values in samples.items()
        ]
        with self.engine.begin() as connection:
            connection.execute(metric_samples.insert(), rows)

    def samples(self, since: float) -> list[SampleRow]:
        query = metric_samples.select().where(metric_samples.c.time >= since)
        return cast(list[SampleRow], self._select(query.order_by(metric_samples.c.time)))
