"""The studio page's state: one Reflex state composed of the tabs' parts (studio_*_state.py),
and what spans them: the admin key, the first load, and the tick that keeps every tab live.
"""

from __future__ import annotations

import hmac
from typing import Any

import reflex as rx

from persian_chat.studio.service import Studio, get_studio
from persian_chat.studio.templates import TEMPLATES
from persian_chat_ui.studio_access import ENABLED
from persian_chat_ui.studio_jobs_state import JobsTabState
from persian_chat_ui.studio_monitoring_state import MonitoringTabState
from persian_chat_ui.studio_versions_state import VersionsTabState

__all__ = ["ENABLED", "StudioState"]


class StudioState(JobsTabState, VersionsTabState, MonitoringTabState, rx.State):
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

    @rx.event
    def tick(self, _: str = "") -> None:
        """Every second while the page is open: jobs, progress, versions, monitoring."""
        studio = self._studio()
        if studio is not None:
            self._refresh(studio)

    def _refresh(self, studio: Studio) -> None:
        self._list_datasets(studio)
        self._list_jobs(studio)
        self._progress(studio)
        self._versions(studio)
        self._monitoring(studio)
