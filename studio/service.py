"""The studio's back end in one object for the web process: the store, the job service and
the metrics sampler, started once per process."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from persian_chat.studio.jobs import JobService
from persian_chat.studio.monitoring import scrape
from persian_chat.studio.serving import add_model, served_models
from persian_chat.studio.settings import StudioSettings, settings_from_environment
from persian_chat.studio.store import Store
from persian_chat.studio.trial import TrialServer

log = logging.getLogger("persian_chat.studio")


class Studio:
    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.url)
        self.jobs = JobService(settings, self.store)
        self.trial = TrialServer(settings.home / "logs")
        # the models the server answers with (the first first): read with each metrics
        # sample and extended by a serve, so the page (refreshed every second) never waits
        # on the server itself
        self.served_models: list[str] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="studio-metrics", daemon=True)

    def start(self) -> None:
        self.jobs.start()
        self._sampler.start()

    def close(self) -> None:
        self._stop.set()
        self.trial.stop()
        self.jobs.close()
        self.store.close()

    def serve(self, served_dir: Path) -> dict[str, Any]:
        """Serve a version on the running server beside the models it serves (SwitchError
        when refused); the chat picks it by name."""
        answer = add_model(self.settings.api_url, self.settings.admin_key, served_dir)
        if answer["model"] not in self.served_models:
            self.served_models = [*self.served_models, str(answer["model"])]
        return answer

    def sample_metrics(self) -> bool:
        """One sample of the server's per-model counters (and of the model it serves);
        False when it is not reachable."""
        self.served_models = served_models(self.settings.api_url)
        values = scrape(self.settings.api_url)
        if values is None:
            return False
        self.store.add_samples(time.time(), values)
        return True

    def _sample(self) -> None:
        while True:
            try:
                self.sample_metrics()
            except Exception:  # monitoring must never take the studio down
                log.exception("sampling the server's metrics failed")
            if self._stop.wait(self.settings.metrics_seconds):
                return


_studio: Studio | None = None
_lock = threading.Lock()


def get_studio() -> Studio:
    """The process's studio, started on first use with the environment's settings."""
    global _studio
    with _lock:
        if _studio is None:
            _studio = Studio(settings_from_environment())
            _studio.start()
        return _studio
