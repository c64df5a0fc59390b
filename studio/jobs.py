"""The job service: a queue of studio jobs run one at a time, each as its own process.

It lives in the studio's web process as a thread that looks at the jobs every second: it
starts the next queued job when none runs, follows a running one through its state file,
and when a job's process is gone decides what happened (finished, stopped by the user,
failed with its error, or interrupted) and registers a finished job as a model version.
Jobs keep running when the browser or the studio goes away; a restarted studio finds them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from persian_chat.atomic import atomic_write_text
from persian_chat.loss_log import read_log
from persian_chat.studio.datasets import knowledge_documents, prepare_config
from persian_chat.studio.runner import read_state
from persian_chat.studio.settings import StudioSettings
from persian_chat.studio.status import ACTIVE, RESUMABLE, JobStatus
from persian_chat.studio.store import DatasetRow, JobRow, Store
from persian_chat.studio.templates import TEMPLATES, Recipe, default_base_model, recipe_for

log = logging.getLogger("persian_chat.studio")

STOP_KILL_AFTER_S = 20.0  # a stage that ignores SIGTERM this long gets SIGKILL
INTERRUPTED = (
    "فرایند کار ناگهان پایان یافت (کشته شد یا دستگاه خاموش شد)؛ می‌توانید آن را از آخرین "
    "نقطهٔ ذخیره ادامه دهید"
)
DEFAULT_BATCH = 4  # for the time estimate when train will choose the batch size itself


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def runner_alive(pid: int | None) -> bool:
    """Whether `pid` is still one of our job runners (not a zombie, not a reused pid)."""
    if not pid:
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return "persian_chat.studio.runner" in " ".join(process.cmdline())
    except psutil.Error:
        return False


class JobService:
    def __init__(self, settings: StudioSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.url)
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop --------------------------------------------------------------------------

    def start(self) -> None:
        self.tick()
        self._thread = threading.Thread(target=self._loop, name="studio-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching; running jobs go on (a restarted studio finds them)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.poll_seconds):
            try:
                self.tick()
            except Exception:  # keep watching: one bad row must not stop the queue
                log.exception("studio job check failed")

    def tick(self) -> None:
        with self._lock:
            for job in self.store.jobs_with(*ACTIVE):
                self._follow(job)
            if not self.store.jobs_with(*ACTIVE):
                queued = self.store.jobs_with(JobStatus.QUEUED)
                if queued:
                    self._launch(queued[0])

    # -- actions ---------------------------------------------------------------------------

    def create_job(self, dataset_id: int, template: str, overrides: dict[str, Any]) -> int:
        dataset = self.store.dataset(dataset_id)
        if dataset is None:
            raise ValueError(f"no dataset {dataset_id}")
        if template not in TEMPLATES:
            raise ValueError(f"no template {template}")
        recipe = recipe_for(template, overrides, self.settings.repo)
        with self._lock:
            job_id = self.store.add_job(
                {
                    "dataset_id": dataset_id,
                    "template": template,
                    "recipe": recipe.model_dump(mode="json"),
                    "directory": "",
                }
            )
            job_dir = (self.settings.home / "jobs" / str(job_id)).resolve()
            (job_dir / "logs").mkdir(parents=True, exist_ok=True)
            source = next(Path(dataset["directory"]).glob("source.*"))
            config = prepare_config(
                self.settings,
                source,
                dataset["mapping"],
                job_dir / "data",
                recipe.system_prompt,
                recipe.extra_sources,
                knowledge_documents(Path(dataset["directory"])),
            )
            atomic_write_text(job_dir / "prepare.toml", config)
            job = {
                "name": f"{template}-v{job_id}",
                "recipe": recipe.model_dump(mode="json"),
                "repo": str(self.settings.repo.resolve()),
            }
            atomic_write_text(job_dir / "job.json", json.dumps(job, ensure_ascii=False, indent=2))
            self.store.update_job(job_id, directory=str(job_dir))
        self.tick()
        return job_id

    def stop(self, job_id: int) -> None:
        with self._lock:
            job = self.store.job(job_id)
            if job is None:
                return
            if job["status"] == JobStatus.QUEUED:
                self.store.update_job(job_id, expect=(JobStatus.QUEUED,), status=JobStatus.STOPPED)
            elif job["status"] == JobStatus.RUNNING and self.store.update_job(
                job_id, expect=(JobStatus.RUNNING,), status=JobStatus.STOPPING
            ):
                self._signal(job["pid"], signal.SIGTERM)

    def resume(self, job_id: int) -> bool:
        """Queue a stopped, interrupted or failed job again; it continues where it was."""
        with self._lock:
            resumed = self.store.update_job(
                job_id, expect=RESUMABLE, status=JobStatus.QUEUED, resume=True, error=""
            )
        if resumed:
            self.tick()
        return resumed

    # -- following a job -------------------------------------------------------------------

    def _launch(self, job: JobRow) -> None:
        job_dir = Path(job["directory"])
        command = [sys.executable, "-m", "persian_chat.studio.runner", str(job_dir)]
        if job["resume"]:
            command.append("--resume")
        with (job_dir / "job.log").open("ab") as out:
            child = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.settings.repo,
                start_new_session=True,
            )
        self._children[job["id"]] = child
        self.store.update_job(
            job["id"],
            expect=(JobStatus.QUEUED,),
            status=JobStatus.RUNNING,
            pid=child.pid,
            stage="",
            error="",
        )
        log.info(
            "job %d started (pid %d%s)", job["id"], child.pid, ", resumed" if job["resume"] else ""
        )

    def _alive(self, job: JobRow) -> bool:
        child = self._children.get(job["id"])
        if child is not None and child.pid == job["pid"]:
            return child.poll() is None
        return runner_alive(job["pid"])

    @staticmethod
    def _signal(pid: int | None, sig: signal.Signals) -> None:
        """Signal the runner's whole process group (the stage it runs included)."""
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)

    def _follow(self, job: JobRow) -> None:
        job_dir = Path(job["directory"])
        state = read_state(job_dir)
        if self._alive(job):
            if state.get("stage", "") != job["stage"]:
                self.store.update_job(job["id"], stage=state.get("stage", ""))
            if (
                job["status"] == JobStatus.STOPPING
                and time.time() - job["updated"] > STOP_KILL_AFTER_S
            ):
                self._signal(job["pid"], signal.SIGKILL)
            return
        self._signal(job["pid"], signal.SIGKILL)  # a stage left behind by a killed runner
        child = self._children.pop(job["id"], None)
        if child is not None:
            child.wait()
        if state.get("status") == JobStatus.FINISHED:
            self._register(job)
            self.store.update_job(job["id"], status=JobStatus.FINISHED, stage="")
        elif job["status"] == JobStatus.STOPPING:
            self.store.update_job(job["id"], status=JobStatus.STOPPED)
        elif state.get("status") == JobStatus.FAILED:
            self.store.update_job(job["id"], status=JobStatus.FAILED, error=state.get("error", ""))
        else:
            self.store.update_job(job["id"], status=JobStatus.INTERRUPTED, error=INTERRUPTED)
        log.info("job %d ended: %s", job["id"], self.store.job(job["id"]))

    def _register(self, job: JobRow) -> None:
        """A finished job becomes a model version with its evaluation and int8 parity."""
        if self.store.version_of_job(job["id"]) is not None:
            return
        job_dir = Path(job["directory"])
        spec = _read_json(job_dir / "job.json")
        found = self.store.dataset(job["dataset_id"])
        dataset_sha256 = found["sha256"] if found is not None else ""
        evaluation = _read_json(job_dir / "logs" / "eval.json").get("fine_tuned", {})
        chat_eval = _read_json(job_dir / "logs" / "chat_eval.json")
        if chat_eval:
            evaluation = {**evaluation, "chat": chat_eval}
        training = _read_json(job_dir / "checkpoint" / "training_manifest.json")
        recipe = {
            **job["recipe"],
            "steps": training.get("steps"),
            "final_train_loss": training.get("final_train_loss"),
            "tokens_per_sec": training.get("tokens_per_sec"),
            "train_runtime_s": training.get("train_runtime_s"),
        }
        parity = _read_json(job_dir / "logs" / "export.json").get("parity", {})
        self.store.add_version(
            {
                "name": spec.get("name", f"studio-v{job['id']}"),
                "job_id": job["id"],
                "dataset_sha256": dataset_sha256,
                "recipe": recipe,
                "evaluation": evaluation,
                "parity": parity,
                "checkpoint": str(job_dir / "checkpoint"),
                "served": str(job_dir / "served" / spec.get("name", "")),
            }
        )

    # -- what the page shows ---------------------------------------------------------------

    def progress(self, job_id: int) -> dict[str, Any]:
        """Loss curve, step, tokens/s and ETA of a job, from train's own log."""
        job = self.store.job(job_id)
        if job is None:
            return {}
        path = Path(job["directory"]) / "logs" / "train.log"
        try:
            records = read_log(path) if path.is_file() else []
        except ValueError:  # a line being written
            records = []
        last = records[-1] if records else {}
        eta = None
        if (
            last.get("max_steps")
            and last.get("steps_this_run")
            and job["status"] == JobStatus.RUNNING
        ):
            per_step = last["elapsed_s"] / last["steps_this_run"]
            eta = per_step * max(0, last["max_steps"] - last["step"])
        return {"job": job, "records": records, "last": last, "eta_s": eta}

    def estimate_seconds(self, dataset: DatasetRow, recipe: Recipe) -> float | None:
        """Training time from a measured rate on this machine (the newest finished run with
        the same base model, else the reference run's logs); None before any measurement."""
        rate = None
        for version in self.store.versions():
            if version["recipe"].get("base_model") == recipe.base_model:
                rate = version["recipe"].get("tokens_per_sec")
                if rate:
                    break
        if not rate:  # the reference run trained the same architecture (Gemma-3-270M)
            reference = _read_json(self.settings.repo / "logs" / "training_manifest.json")
            same = {reference.get("base_model"), default_base_model(self.settings.repo)}
            if recipe.base_model in same:
                rate = reference.get("tokens_per_sec")
        if not rate:
            return None
        counts = dataset["counts"]
        tokens = float(counts.get("train_tokens", 0)) + self._extra_tokens(recipe)
        rows = max(1, int(counts.get("counts", {}).get("train", 1)))
        total = tokens * recipe.epochs
        if recipe.max_steps > 0:
            per_step = (recipe.batch_size or DEFAULT_BATCH) * tokens / rows
            total = min(total, recipe.max_steps * per_step)
        return total / float(rate)

    def _extra_tokens(self, recipe: Recipe) -> float:
        manifest = _read_json(self.settings.repo / "datasets" / "manifest.json")
        total = 0.0
        for extra in recipe.extra_sources:
            for source in manifest.get("sources", []):
                if {k: source.get("spec", {}).get(k) for k in extra} == extra:
                    total += source.get("train", {}).get("tokens", 0)
        return total
