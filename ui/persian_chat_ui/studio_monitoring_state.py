"""The monitoring tab's state: the served models' requests, errors, time to first token and
tokens/s over the last hour, from the samples the studio records."""

from __future__ import annotations

import time
from typing import Any

from persian_chat.studio.monitoring import rates
from persian_chat.studio.service import Studio
from persian_chat_ui.studio_access import StudioAccess
from persian_chat_ui.studio_text import fa

MONITOR_WINDOW_S = 3600


class MonitoringTabState(StudioAccess, mixin=True):
    # monitoring
    monitor_rows: list[dict[str, str]] = []  # noqa: RUF012
    monitor_points: list[dict[str, Any]] = []  # noqa: RUF012

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
