"""The jobs tab's state: start a job from a template on the chosen dataset, stop and
resume jobs, and the selected job's live progress (loss curve, step, rate, time left).

The job service runs the pipeline in its own thread and processes; this state only reads
what it records.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from persian_chat.studio.downloads import signed
from persian_chat.studio.service import Studio
from persian_chat.studio.templates import TEMPLATES
from persian_chat_ui.studio_data_state import DataTabState
from persian_chat_ui.studio_text import STAGE_FA, STATUS_FA, duration_fa, fa, when_fa


class JobsTabState(DataTabState, mixin=True):
    # jobs
    jobs: list[dict[str, str]] = []  # noqa: RUF012
    job_id: int = -1
    job_status: str = ""
    job_stage: str = ""
    job_failure: str = ""
    loss_points: list[dict[str, float]] = []  # noqa: RUF012
    step_text: str = ""
    rate_text: str = ""
    eta_text: str = ""

    @rx.event
    def start_job(self, template: str) -> Any:
        studio = self._studio()
        if studio is None:
            return None
        if self.dataset_id < 0:
            self.job_error = "نخست داده‌ای بارگذاری و ثبت کنید"
            return None
        try:
            job_id = studio.jobs.create_job(self.dataset_id, template, self._overrides())
        except ValueError as exc:  # a malformed advanced setting, named by pydantic
            self.job_error = f"تنظیمات پیشرفته پذیرفته نشد: {exc}"
            return None
        self.job_error, self.job_id = "", job_id
        self._refresh(studio)
        return rx.toast.success(f"کار {fa(job_id)} ساخته شد", duration=3000)

    @rx.event
    def stop_job(self, job_id: str) -> None:
        studio = self._studio()
        if studio is not None:
            studio.jobs.stop(int(job_id))
            self._refresh(studio)

    @rx.event
    def resume_job(self, job_id: str) -> None:
        studio = self._studio()
        if studio is not None:
            studio.jobs.resume(int(job_id))
            self.job_id = int(job_id)
            self._refresh(studio)

    @rx.event
    def select_job(self, job_id: str) -> None:
        studio = self._studio()
        if studio is not None:
            self.job_id = int(job_id)
            self._refresh(studio)

    def _list_jobs(self, studio: Studio) -> None:
        jobs = studio.store.jobs()
        self.jobs = [
            {
                "id": str(j["id"]),
                "id_fa": fa(j["id"]),
                "template": TEMPLATES[j["template"]].title,
                "status": j["status"],
                "status_fa": str(STATUS_FA.get(j["status"], j["status"])),
                "stage_fa": str(STAGE_FA.get(j["stage"], j["stage"])),
                "created": when_fa(j["created"]),
                "log_url": signed(f"/studio/download/job/{j['id']}/log"),
            }
            for j in jobs
        ]
        if self.job_id < 0 and jobs:
            self.job_id = int(jobs[0]["id"])

    def _progress(self, studio: Studio) -> None:
        progress = studio.jobs.progress(self.job_id) if self.job_id >= 0 else {}
        job = progress.get("job")
        if not job:
            return
        self.job_status = STATUS_FA.get(job["status"], job["status"])
        self.job_stage = STAGE_FA.get(job["stage"], job["stage"])
        self.job_failure = job["error"]
        records = progress["records"]
        self.loss_points = [{"step": r["step"], "loss": r["loss"]} for r in records]
        last = progress["last"]
        if last:
            self.step_text = f"گام {fa(last['step'])} از {fa(last.get('max_steps', '?'))}"
            self.rate_text = f"{fa(round(last.get('tokens_per_sec', 0)))} توکن در ثانیه"
        else:
            self.step_text, self.rate_text = "", ""
        self.eta_text = duration_fa(progress["eta_s"]) if progress["eta_s"] is not None else ""
