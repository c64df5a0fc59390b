"""The studio's back end in one object for the web process: the store, the job service and
the metrics sampler, started once per process."""

from __future__ import annotations

import logging
import threading
import time

from persian_chat.studio.jobs import JobService
from persian_chat.studio.monitoring import scrape
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

    def sample_metrics(self) -> bool:
        """One sample of the server's per-model counters; False when it is not reachable."""
        values = scrape(self.settings.api_url)
        if values is None:
            return False
        self.store.add_samples(time.time(), values)
        return True

    def _sample(self) -> None:
        while not self._stop.wait(self.settings.metrics_seconds):
            try:
                self.sample_metrics()
            except Exception:  # monitoring must never take the studio down
                log.exception("sampling the server's metrics failed")


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
