"""The studio page's state: upload and column mapping, datasets, templates, jobs with live
progress, versions (compare, serve, download) and monitoring.

Everything slow (prepare, switching the served model) runs in a background event so the
page stays live; the job service does the rest in its own thread and processes. Beyond
loopback every event needs the admin key first (compared in constant time).
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from pathlib import Path
from typing import Any

import reflex as rx

from persian_chat.persian_numbers import persian_digits
from persian_chat.studio.datasets import add_dataset
from persian_chat.studio.downloads import signed
from persian_chat.studio.knowledge import KnowledgeSearch, inspect_knowledge
from persian_chat.studio.monitoring import rates
from persian_chat.studio.service import Studio, get_studio
from persian_chat.studio.serving import SwitchError
from persian_chat.studio.status import JobStatus
from persian_chat.studio.store import DatasetRow
from persian_chat.studio.templates import TEMPLATES, Recipe, recipe_for
from persian_chat.studio.trial import TrialError
from persian_chat.studio.uploads import Preview, UploadError, check_mapping, inspect_upload

ENABLED = os.environ.get("PERSIAN_CHAT_STUDIO") == "1"
STATUS_FA: dict[str, str] = {
    JobStatus.QUEUED: "در صف",
    JobStatus.RUNNING: "در حال اجرا",
    JobStatus.STOPPING: "در حال توقف",
    JobStatus.STOPPED: "متوقف",
    JobStatus.INTERRUPTED: "قطع‌شده",
    JobStatus.FAILED: "ناموفق",
    JobStatus.FINISHED: "پایان‌یافته",
}
STAGE_FA = {
    "prepare": "آماده‌سازی داده",
    "train": "آموزش",
    "evaluate": "ارزیابی",
    "export": "ساخت مدل ONNX",
    "": "—",
}
COUNT_FA = {
    "rows": "سطرهای خوانده‌شده",
    "invalid": "نادرست",
    "duplicate_exact": "تکراری",
    "empty": "خالی",
    "no_text": "بی‌متن",
    "too_short": "بسیار کوتاه",
    "too_long": "بسیار بلند",
    "not_persian": "غیرفارسی",
    "offensive": "ناشایست",
    "duplicate_normalized": "تکراری پس از یکسان‌سازی",
    "over_share": "بیش از سهم",
    "kept": "نگه‌داشته",
    "reading_added": "سطرهای خواندن",
    "knowledge": "بخش‌های دانش",
    "train": "آموزش",
    "test": "آزمون",
}
ADVANCED = (
    "base_model",
    "learning_rate",
    "epochs",
    "max_steps",
    "batch_size",
    "max_length",
    "save_steps",
    "trim_vocab",
    "packing",
)
YES_NO = ("yes", "no")  # the switches among the advanced settings
MONITOR_WINDOW_S = 3600
# uploads waiting for their column mapping, by browser session (bytes never go to the page)
_UPLOADS: dict[str, tuple[Preview, bytes]] = {}
# knowledge documents waiting to be saved with the upload, per browser session
_DOCUMENTS: dict[str, list[tuple[str, bytes]]] = {}
KNOWLEDGE_SEARCH = KnowledgeSearch()


def fa(value: Any) -> str:
    return persian_digits(str(value))


def duration_fa(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{fa(seconds)} ثانیه"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{fa(minutes)} دقیقه" + (f" و {fa(rest)} ثانیه" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{fa(hours)} ساعت" + (f" و {fa(minutes)} دقیقه" if minutes else "")


def when_fa(timestamp: float) -> str:
    return fa(time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)))


class StudioState(rx.State):
    enabled: bool = ENABLED
    needs_key: bool = False
    unlocked: bool = False
    # data
    upload_name: str = ""
    upload_error: str = ""
    data_format: str = ""
    columns: list[str] = []  # noqa: RUF012
    preview_rows: list[dict[str, str]] = []  # noqa: RUF012
    row_count: str = ""
    bad_rows: list[str] = []  # noqa: RUF012
    question_column: str = ""
    answer_column: str = ""
    preparing: bool = False
    dataset_id: int = -1
    dataset_label: str = ""
    dataset_counts: list[list[str]] = []  # noqa: RUF012
    dropped: list[str] = []  # noqa: RUF012
    datasets: list[dict[str, str]] = []  # noqa: RUF012
    # the bot's knowledge: documents waiting to be saved, their first passages, a search
    knowledge_docs: list[dict[str, str]] = []  # noqa: RUF012
    knowledge_preview: list[dict[str, str]] = []  # noqa: RUF012
    knowledge_error: str = ""
    knowledge_hits: list[dict[str, str]] = []  # noqa: RUF012
    knowledge_searched: str = ""  # the query the hits are for
    # templates and advanced settings ("" keeps the template's value)
    templates: list[dict[str, str]] = []  # noqa: RUF012
    advanced: dict[str, str] = {name: "" for name in ADVANCED}  # noqa: RUF012
    job_error: str = ""
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
    # versions
    versions: list[dict[str, str]] = []  # noqa: RUF012
    compare_a: str = ""
    compare_b: str = ""
    served_model: str = ""
    serving: bool = False
    serve_message: str = ""
    # a test chat with a version that is not served (a server process of its own)
    trial_version: str = ""
    trial_busy: bool = False
    trial_messages: list[dict[str, str]] = []  # noqa: RUF012
    trial_error: str = ""
    # monitoring
    monitor_rows: list[dict[str, str]] = []  # noqa: RUF012
    monitor_points: list[dict[str, Any]] = []  # noqa: RUF012

    # -- access ----------------------------------------------------------------------------

    def _studio(self) -> Studio | None:
        """The studio, or None when this session may not use it."""
        if not self.enabled:
            return None
        studio = get_studio()
        self.needs_key = studio.settings.needs_key
        if self.needs_key and not self.unlocked:
            return None
        return studio

    @rx.event
    def unlock(self, form_data: dict[str, Any]) -> Any:
        studio = get_studio() if self.enabled else None
        if studio is None:
            return None
        given = str(form_data.get("admin_key", "")).encode()
        if studio.settings.admin_key and hmac.compare_digest(
            given, studio.settings.admin_key.encode()
        ):
            self.unlocked = True
            return StudioState.load
        return rx.toast.error("کلید مدیر درست نیست", duration=5000)

    @rx.event
    def load(self) -> None:
        studio = self._studio()
        if studio is None:
            return
        self.templates = [
            {"name": t.name, "title": t.title, "description": t.description, "estimate": ""}
            for t in TEMPLATES.values()
        ]
        self._refresh(studio)

    # -- data ------------------------------------------------------------------------------

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> Any:
        """Check the file and show its preview and columns; nothing is kept yet."""
        studio = self._studio()
        if studio is None or not files:
            return None
        upload = files[0]
        name = Path(upload.name or "upload.csv").name
        data = await upload.read()
        self.upload_name, self.columns, self.preview_rows, self.bad_rows = name, [], [], []
        self.dataset_counts, self.dropped, self.dataset_id = [], [], -1
        try:
            # a worker thread: a large file takes seconds, and this loop serves every browser
            limit = studio.settings.max_upload_bytes
            preview = await asyncio.to_thread(inspect_upload, name, data, limit)
        except UploadError as exc:
            self.upload_error = f"{name}: {exc.message}"
            return rx.toast.error(self.upload_error, duration=8000)
        self.upload_error = ""
        _UPLOADS[self.router.session.client_token] = (preview, data)
        self.data_format = preview.format
        self.columns = preview.columns
        self.preview_rows = preview.rows
        self.row_count = fa(preview.row_count)
        self.bad_rows = [f"خط {row}" for row in preview.bad_rows]
        self.question_column = preview.guess.get("question", "")
        self.answer_column = preview.guess.get("answer", "")
        return None

    @rx.event
    async def handle_knowledge_upload(self, files: list[rx.UploadFile]) -> Any:
        """Check knowledge documents and preview the passages they become; they are kept
        with the next dataset saved."""
        studio = self._studio()
        if studio is None or not files:
            return None
        token = self.router.session.client_token
        documents = _DOCUMENTS.setdefault(token, [])
        for upload in files:
            name = Path(upload.name or "knowledge.txt").name
            data = await upload.read()
            try:
                limit = studio.settings.max_upload_bytes
                preview = await asyncio.to_thread(inspect_knowledge, name, data, limit)
            except UploadError as exc:
                self.knowledge_error = f"{name}: {exc.message}"
                return rx.toast.error(self.knowledge_error, duration=8000)
            documents.append((name, data))
            self.knowledge_docs = [*self.knowledge_docs, {"name": name, "count": fa(preview.count)}]
            self.knowledge_preview = [
                *self.knowledge_preview,
                *({"title": p.title, "text": p.text} for p in preview.passages),
            ]
        self.knowledge_error = ""
        return None

    @rx.event
    def clear_knowledge(self) -> None:
        _DOCUMENTS.pop(self.router.session.client_token, None)
        self.knowledge_docs, self.knowledge_preview, self.knowledge_error = [], [], ""

    @rx.event(background=True)
    async def search_knowledge(self, form_data: dict[str, Any]) -> None:
        """What the chat would put in front of this question, from the shown dataset's
        knowledge (its documents and its question-answer rows)."""
        query = str(form_data.get("query", "")).strip()
        async with self:
            studio = self._studio()
            row = studio.store.dataset(self.dataset_id) if studio is not None else None
            if row is None or not query:
                return
        directory = Path(row["directory"])
        hits = await asyncio.to_thread(KNOWLEDGE_SEARCH.search, directory, query)
        async with self:
            self.knowledge_searched = query
            self.knowledge_hits = [
                {"title": p.title, "text": p.text, "coverage": fa(f"{round(c * 100)}٪")}
                for p, c in hits
            ]

    @rx.event
    def set_question_column(self, value: str) -> None:
        self.question_column = value

    @rx.event
    def set_answer_column(self, value: str) -> None:
        self.answer_column = value

    @rx.event(background=True)
    async def save_dataset(self) -> Any:
        """Run prepare on the upload with the chosen columns; show its counts."""
        async with self:
            studio = self._studio()
            pending = _UPLOADS.get(self.router.session.client_token)
            if studio is None or pending is None or self.preparing:
                return
            preview, data = pending
            documents = list(_DOCUMENTS.get(self.router.session.client_token, []))
            try:
                mapping = check_mapping(preview, self.question_column, self.answer_column)
            except UploadError as exc:
                self.upload_error = f"{preview.name}: {exc.message}"
                return
            self.preparing, self.upload_error = True, ""
        try:
            row = await asyncio.to_thread(
                add_dataset, studio.settings, studio.store, preview.name, data, mapping, documents
            )
        except UploadError as exc:
            async with self:
                self.preparing = False
                self.upload_error = f"{preview.name}: {exc.message}"
            return
        async with self:
            self.preparing = False
            _UPLOADS.pop(self.router.session.client_token, None)
            _DOCUMENTS.pop(self.router.session.client_token, None)
            self.knowledge_docs, self.knowledge_preview = [], []
            self._show_dataset(studio, row)
            self._refresh(studio)

    @rx.event
    def use_dataset(self, dataset_id: str) -> None:
        studio = self._studio()
        row = studio.store.dataset(int(dataset_id)) if studio and dataset_id else None
        if studio is not None and row is not None:
            self._show_dataset(studio, row)

    def _show_dataset(self, studio: Studio, row: DatasetRow) -> None:
        self.knowledge_hits, self.knowledge_searched = [], ""
        self.dataset_id = int(row["id"])
        self.dataset_label = f"{row['name']} (SHA-256 {row['sha256'][:12]}…)"
        summary = row["counts"]
        counts = {**summary.get("counts", {}), "knowledge": summary.get("knowledge", 0)}
        self.dataset_counts = [
            [COUNT_FA.get(k, k), fa(v)]
            for k, v in counts.items()
            if v or k in ("rows", "kept", "train", "test")
        ]
        self.dropped = [
            f"{COUNT_FA.get(reason, reason)} — {example}"
            for reason, examples in summary.get("dropped_examples", {}).items()
            for example in examples[:3]
        ]
        self._estimate(studio, row)

    def _estimate(self, studio: Studio, row: DatasetRow) -> None:
        estimates = []
        for template in TEMPLATES.values():
            try:
                recipe = recipe_for(template.name, self._overrides(), studio.settings.repo)
                seconds = studio.jobs.estimate_seconds(row, recipe)
            except ValueError:
                seconds = None
            estimates.append(
                "زمان تقریبی آموزش: " + duration_fa(seconds)
                if seconds is not None
                else "زمان تقریبی: هنوز اندازه‌گیری‌ای روی این دستگاه نیست"
            )
        self.templates = [
            {**t, "estimate": e} for t, e in zip(self.templates, estimates, strict=False)
        ]

    # -- templates and jobs ----------------------------------------------------------------

    @rx.event
    def set_advanced(self, name: str, value: str) -> None:
        if name not in ADVANCED:
            return
        self.advanced = {**self.advanced, name: value.strip()}
        studio = self._studio()
        row = studio.store.dataset(self.dataset_id) if studio and self.dataset_id >= 0 else None
        if studio is not None and row is not None:
            self._estimate(studio, row)  # another base model or length: another estimate

    def _overrides(self) -> dict[str, Any]:
        fields = Recipe.model_fields
        out: dict[str, Any] = {}
        for name, raw in self.advanced.items():
            if raw == "":
                continue
            kind = fields[name].annotation
            if kind is str:
                out[name] = raw
            elif kind is bool:
                out[name] = raw == "yes"
            elif kind is float:
                out[name] = float(raw)
            else:
                out[name] = int(raw)
        return out

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

    @rx.event
    def tick(self, _: str = "") -> None:
        """Every second while the page is open: jobs, progress, versions, monitoring."""
        studio = self._studio()
        if studio is not None:
            self._refresh(studio)

    def _refresh(self, studio: Studio) -> None:
        store = studio.store
        self.datasets = [
            {"id": str(d["id"]), "label": f"{d['name']} ({when_fa(d['created'])})"}
            for d in store.datasets()
        ]
        jobs = store.jobs()
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
        self._progress(studio)
        self._versions(studio)
        self._monitoring(studio)

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

    def _versions(self, studio: Studio) -> None:
        served = studio.served_models
        self.served_model = "، ".join(served)
        rows = []
        for v in studio.store.versions():
            evaluation, parity, recipe = v["evaluation"], v["parity"], v["recipe"]
            perplexity = evaluation.get("perplexity")
            increase = parity.get("perplexity", {}).get("int8_increase_over_fp32")
            rows.append(
                {
                    "id": str(v["id"]),
                    "name": v["name"],
                    "created": when_fa(v["created"]),
                    "perplexity": fa(round(perplexity, 2)) if perplexity else "—",
                    "parity": ("پذیرفته" if parity.get("passed") else "رد") if parity else "—",
                    "int8": f"{fa(round(100 * increase, 2))}٪" if increase is not None else "—",
                    "steps": fa(recipe.get("steps") or "—"),
                    "loss": fa(round(recipe["final_train_loss"], 3))
                    if recipe.get("final_train_loss")
                    else "—",
                    "learning_rate": str(recipe.get("learning_rate", "")),
                    "epochs": fa(recipe.get("epochs", "")),
                    "base_model": Path(str(recipe.get("base_model", ""))).name,
                    "dataset": v["dataset_sha256"][:12],
                    "served": "true" if v["name"] in served else "false",
                    "served_url": signed(f"/studio/download/version/{v['id']}/served"),
                    "checkpoint_url": signed(f"/studio/download/version/{v['id']}/checkpoint"),
                }
            )
        self.versions = rows
        ids = [r["id"] for r in rows]
        if self.compare_a not in ids:
            self.compare_a = ids[0] if ids else ""
        if self.compare_b not in ids:
            self.compare_b = ids[1] if len(ids) > 1 else self.compare_a

    @rx.var
    def comparison(self) -> list[list[str]]:
        """Rows of the side-by-side table: field, version A, version B."""
        by_id = {v["id"]: v for v in self.versions}
        a, b = by_id.get(self.compare_a), by_id.get(self.compare_b)
        if a is None or b is None:
            return []
        labels = [
            ("name", "نام"),
            ("perplexity", "سردرگمی روی داده‌های آزمون"),
            ("int8", "افزایش سردرگمی در int8"),
            ("parity", "آزمون برابری int8"),
            ("loss", "خطای پایانی آموزش"),
            ("steps", "گام‌ها"),
            ("learning_rate", "نرخ یادگیری"),
            ("epochs", "دورها"),
            ("base_model", "مدل پایه"),
            ("dataset", "SHA-256 داده"),
        ]
        return [[label, a[key], b[key]] for key, label in labels]

    @rx.event
    def set_compare_a(self, value: str) -> None:
        self.compare_a = value

    @rx.event
    def set_compare_b(self, value: str) -> None:
        self.compare_b = value

    @rx.event(background=True)
    async def serve_version(self, version_id: str) -> Any:
        """Serve this version on the running server beside its models (the chat's model
        picker then offers it; it loads on its first request)."""
        async with self:
            studio = self._studio()
            if studio is None or self.serving:
                return
            version = studio.store.version(int(version_id))
            if version is None:
                return
            self.serving, self.serve_message = True, f"در حال افزودن {version['name']}…"
        try:
            answer = await asyncio.to_thread(studio.serve, Path(version["served"]))
            message = (
                f"{answer['model']} سرویس می‌شود: در گفتگو آن را از فهرست مدل‌ها برگزینید "
                "(با نخستین پرسش بارگذاری می‌شود)"
            )
        except SwitchError as exc:
            message = str(exc)
        async with self:
            self.serving, self.serve_message = False, message
            self._versions(studio)

    @rx.event(background=True)
    async def try_version(self, version_id: str) -> None:
        """Start a test server for this version (the previous one stops)."""
        async with self:
            studio = self._studio()
            version = studio.store.version(int(version_id)) if studio else None
            if studio is None or version is None or self.trial_busy:
                return
            self.trial_busy, self.trial_error, self.trial_messages = True, "", []
            self.trial_version = version["name"]
        try:
            await asyncio.to_thread(studio.trial.start, version["name"], Path(version["served"]))
            error = ""
        except TrialError as exc:
            error = str(exc)
        async with self:
            self.trial_busy, self.trial_error = False, error

    @rx.event(background=True)
    async def ask_trial(self, form_data: dict[str, Any]) -> Any:
        question = str(form_data.get("trial_question", "")).strip()
        async with self:
            studio = self._studio()
            if studio is None or not question or self.trial_busy:
                return None
            self.trial_busy, self.trial_error = True, ""
            self.trial_messages = [*self.trial_messages, {"role": "user", "content": question}]
        try:
            answer = await asyncio.to_thread(studio.trial.ask, question)
            error = ""
        except TrialError as exc:
            answer, error = "", str(exc)
        async with self:
            self.trial_busy, self.trial_error = False, error
            if answer:
                self.trial_messages = [
                    *self.trial_messages,
                    {"role": "assistant", "content": answer},
                ]
        return rx.set_value("trial-input", "")

    def _monitoring(self, studio: Studio) -> None:
        points = rates(studio.store.samples(time.time() - MONITOR_WINDOW_S))
        self.monitor_points = [
            {
                "time": time.strftime("%H:%M:%S", time.localtime(p["time"])),
                "tokens_per_s": p["tokens_per_s"],
                "ttft_ms": p["ttft_ms"] or 0,
                "model": p["model"],
            }
            for p in points
        ]
        models: dict[str, dict[str, float]] = {}
        for p in points:
            row = models.setdefault(
                p["model"],
                {"requests": 0, "errors": 0, "ttft": 0.0, "ttft_n": 0, "tokens": 0.0, "n": 0},
            )
            row["requests"] += p["requests"]
            row["errors"] += p["errors"]
            if p["ttft_ms"] is not None:
                row["ttft"] += p["ttft_ms"] * p["requests"]
                row["ttft_n"] += p["requests"]
            if p["requests"]:
                row["tokens"] += p["tokens_per_s"]
                row["n"] += 1
        self.monitor_rows = [
            {
                "model": model,
                "requests": fa(int(r["requests"])),
                "errors": fa(int(r["errors"])),
                "ttft": fa(round(r["ttft"] / r["ttft_n"])) if r["ttft_n"] else "—",
                "tokens": fa(round(r["tokens"] / r["n"], 1)) if r["n"] else "—",
            }
            for model, r in models.items()
        ]
