"""The versions tab's state: every trained version with its figures, two side by side,
serving one beside the running server's models, and a test chat with one that is not served
(a server process of its own).

Switching the served model and the test server run in background events so the page stays
live.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import reflex as rx

from persian_chat.studio.downloads import signed
from persian_chat.studio.service import Studio
from persian_chat.studio.serving import SwitchError
from persian_chat.studio.trial import TrialError
from persian_chat_ui.studio_access import StudioAccess
from persian_chat_ui.studio_text import fa, when_fa


class VersionsTabState(StudioAccess, mixin=True):
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
