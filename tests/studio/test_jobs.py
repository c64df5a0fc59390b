"""A studio job end to end on a tiny model: queued, trained with live progress, stopped,
resumed from its checkpoint, killed, found again by a restarted studio, resumed, finished
as a version with its evaluation and int8 parity."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from persian_chat.studio.datasets import add_dataset
from persian_chat.studio.jobs import JobService
from persian_chat.studio.settings import StudioSettings
from persian_chat.studio.store import Store
from persian_chat.studio.uploads import UploadError

from .faq import faq_csv

MAPPING = {"format": "qa", "question": "پرسش", "answer": "پاسخ"}


def wait_for(what: Callable[[], Any], service: JobService, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        service.tick()
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out; job log:\n{job_log(service)}"
        time.sleep(0.2)


def job_log(service: JobService) -> str:
    jobs = service.store.jobs()
    path = Path(jobs[0]["directory"]) / "job.log" if jobs else None
    return path.read_text("utf-8")[-3000:] if path and path.is_file() else ""


@pytest.fixture
def settings(tmp_path: Path, repo: Path) -> StudioSettings:
    return StudioSettings(home=tmp_path / "studio", repo=repo, poll_seconds=0.2)


@pytest.fixture
def service(settings: StudioSettings) -> Iterator[JobService]:
    service = JobService(settings, Store(settings.url))
    yield service
    for job in service.store.jobs_with("running", "stopping"):  # leave no process behind
        service._signal(job["pid"], signal.SIGKILL)
    service.store.close()


def test_a_refused_upload_writes_nothing(settings: StudioSettings, service: JobService) -> None:
    bad = "پرسش,پاسخ\n" + "سلام,درود\n"
    with pytest.raises(UploadError, match="جواب"):  # prepare: the column is missing
        add_dataset(
            settings,
            service.store,
            "faq.csv",
            bad.encode(),
            {"format": "qa", "question": "پرسش", "answer": "جواب"},
        )
    assert service.store.datasets() == []
    assert not any(p.name != "studio.db" for p in (settings.home / "datasets").iterdir())


def test_the_same_file_is_one_dataset(settings: StudioSettings, service: JobService) -> None:
    first = add_dataset(settings, service.store, "faq.csv", faq_csv(), MAPPING)
    again = add_dataset(settings, service.store, "renamed.csv", faq_csv(), MAPPING)
    assert again["id"] == first["id"] and len(service.store.datasets()) == 1
    counts = first["counts"]["counts"]
    assert counts["rows"] == 40 and counts["kept"] > 30
    # a quarter of the FAQ rows also become reading rows (their answer is a passage)
    assert counts["train"] + counts["test"] == counts["kept"] + counts["reading_added"]
    assert 0 < counts["reading_added"] < counts["kept"]
    assert (Path(first["directory"]) / "prepared" / "train.jsonl").is_file()


GUIDE = "# هزینهٔ ارسال\n\nارسال سفارش‌های بالای دو میلیون تومان رایگان است.\n"


@pytest.mark.slow
def test_job_lifecycle(settings: StudioSettings, service: JobService, tiny_gpt2_dir: Path) -> None:
    guide = [("راهنما.md", GUIDE.encode())]
    dataset = add_dataset(settings, service.store, "faq.csv", faq_csv(), MAPPING, guide)
    overrides = {
        "base_model": str(tiny_gpt2_dir),
        "max_steps": 400,
        "batch_size": 2,
        "save_steps": 5,
        "logging_steps": 1,
        "max_length": 128,
        "trim_vocab": False,
        "packing": False,
        "eval_examples": 4,
    }
    job_id = service.create_job(dataset["id"], "support", overrides)
    job_dir = Path(service.store.job(job_id)["directory"])  # type: ignore[index]
    checkpoints = job_dir / "checkpoint.checkpoints"

    def training_with_checkpoint() -> bool:
        progress = service.progress(job_id)
        return bool(progress["records"]) and any(checkpoints.glob("checkpoint-*"))

    # one job at a time: a second one waits in the queue, and can be taken out of it
    second = service.create_job(dataset["id"], "poetry", overrides)
    assert service.store.job(second)["status"] == "queued"  # type: ignore[index]
    service.stop(second)
    assert service.store.job(second)["status"] == "stopped"  # type: ignore[index]

    wait_for(training_with_checkpoint, service)
    progress = service.progress(job_id)
    assert progress["job"]["stage"] == "train" and progress["last"]["max_steps"] == 400
    assert progress["eta_s"] is not None and progress["eta_s"] > 0
    prompt = json.loads((job_dir / "data" / "train.jsonl").read_text("utf-8").splitlines()[0])
    assert prompt["messages"][0]["content"].startswith("تو پشتیبان مشتریان هستی")

    service.stop(job_id)
    wait_for(lambda: service.store.job(job_id)["status"] == "stopped", service)  # type: ignore[index]
    stopped_at = service.progress(job_id)["last"]["step"]
    assert stopped_at < 400

    assert service.resume(job_id)
    wait_for(lambda: len(service.progress(job_id)["records"]) > stopped_at + 3, service)
    steps = [r["step"] for r in service.progress(job_id)["records"]]
    resumed = steps[stopped_at:]  # the resumed run continues from its checkpoint, not step 1
    assert resumed[0] > 1 and resumed[0] <= stopped_at + 1

    # killed mid-training (not stopped): the runner and its stage die at once
    pid = service.store.job(job_id)["pid"]  # type: ignore[index]
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: service.store.job(job_id)["status"] == "interrupted", service)  # type: ignore[index]

    # a restarted studio finds the job as it was and can resume it
    restarted = JobService(settings, Store(settings.url))
    restarted.tick()
    job = restarted.store.job(job_id)
    assert job is not None and job["status"] == "interrupted" and job["error"]
    assert restarted.resume(job_id)
    wait_for(lambda: restarted.store.job(job_id)["status"] in ("finished", "failed"), restarted)  # type: ignore[index]
    job = restarted.store.job(job_id)
    assert job is not None and job["status"] == "finished", job_log(restarted)
    version = restarted.store.version_of_job(job_id)
    assert version is not None and version["name"] == f"support-v{job_id}"
    assert version["evaluation"]["perplexity"] > 1
    assert version["parity"]["passed"] is True
    assert version["recipe"]["steps"] == 400
    assert (Path(version["served"]) / "manifest.json").is_file()
    # the version carries its bot's knowledge: the uploaded FAQ's answers, to be retrieved
    knowledge = Path(version["served"]) / "knowledge.jsonl"
    passages = [json.loads(line) for line in knowledge.read_text(encoding="utf-8").splitlines()]
    assert len(passages) >= 30 and {p["source"] for p in passages} == {"uploads"}
    assert any("گارانتی" in p["title"] for p in passages)
    assert any(p["title"] == "هزینه ارسال" and "رایگان" in p["text"] for p in passages)
    assert version["dataset_sha256"] == dataset["sha256"]
    restarted.store.close()
