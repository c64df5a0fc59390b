"""The data tab's state: an upload's preview and column mapping, prepare's counts, the
bot's knowledge documents and a search over them, the datasets list, and the recipe settings
(template, advanced values) whose training-time estimate depends on the chosen dataset.

Prepare runs in a background event so the page stays live.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import reflex as rx

from persian_chat.studio.datasets import add_dataset
from persian_chat.studio.knowledge import KnowledgeSearch, inspect_knowledge
from persian_chat.studio.service import Studio
from persian_chat.studio.store import DatasetRow
from persian_chat.studio.templates import TEMPLATES, Recipe, recipe_for
from persian_chat.studio.uploads import Preview, UploadError, check_mapping, inspect_upload
from persian_chat_ui.studio_access import StudioAccess
from persian_chat_ui.studio_text import COUNT_FA, duration_fa, fa, when_fa

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
# uploads waiting for their column mapping, by browser session (bytes never go to the page)
_UPLOADS: dict[str, tuple[Preview, bytes]] = {}
# knowledge documents waiting to be saved with the upload, per browser session
_DOCUMENTS: dict[str, list[tuple[str, bytes]]] = {}
KNOWLEDGE_SEARCH = KnowledgeSearch()


class DataTabState(StudioAccess, mixin=True):
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

    # -- the recipe: template and advanced settings, estimated on the chosen dataset ------

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

    def _list_datasets(self, studio: Studio) -> None:
        self.datasets = [
            {"id": str(d["id"]), "label": f"{d['name']} ({when_fa(d['created'])})"}
            for d in studio.store.datasets()
        ]
