"""Where the studio keeps its files and database, and what it talks to.

Every setting comes from a PERSIAN_CHAT_STUDIO_* (or the shared PERSIAN_CHAT_*) environment
variable, so `persian-chat studio` (which sets them from its options) and the Reflex worker
it starts read the same values.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class StudioSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Path("models/studio")  # uploads, prepared datasets, jobs, versions
    database_url: str = ""  # default: sqlite:///HOME/studio.db (any SQLAlchemy URL works)
    api_url: str = "http://127.0.0.1:8000"  # the `persian-chat serve` process it switches
    admin_key: str = ""  # required when the studio listens beyond loopback
    host: str = "127.0.0.1"
    max_upload_bytes: int = Field(50 * MIB, ge=1)
    repo: Path = Path.cwd()  # where datasets/sources (the blocklist, tables) are found
    poll_seconds: float = Field(1.0, gt=0)
    metrics_seconds: float = Field(10.0, gt=0)

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'studio.db').resolve()}"

    @property
    def needs_key(self) -> bool:
        """Beyond loopback the studio is a remote control for training and serving."""
        return self.host not in LOOPBACK_HOSTS

    def environment(self) -> dict[str, str]:
        return {
            "PERSIAN_CHAT_STUDIO_HOME": str(self.home.resolve()),
            "PERSIAN_CHAT_STUDIO_DATABASE_URL": self.database_url,
            "PERSIAN_CHAT_API_URL": self.api_url,
            "PERSIAN_CHAT_ADMIN_KEY": self.admin_key,
            "PERSIAN_CHAT_STUDIO_HOST": self.host,
            "PERSIAN_CHAT_STUDIO_MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "PERSIAN_CHAT_STUDIO_REPO": str(self.repo.resolve()),
        }


def settings_from_environment() -> StudioSettings:
    env = os.environ
    values: dict[str, object] = {}
    pairs = {
        "home": "PERSIAN_CHAT_STUDIO_HOME",
        "database_url": "PERSIAN_CHAT_STUDIO_DATABASE_URL",
        "api_url": "PERSIAN_CHAT_API_URL",
        "admin_key": "PERSIAN_CHAT_ADMIN_KEY",
        "host": "PERSIAN_CHAT_STUDIO_HOST",
        "max_upload_bytes": "PERSIAN_CHAT_STUDIO_MAX_UPLOAD_BYTES",
        "repo": "PERSIAN_CHAT_STUDIO_REPO",
    }
    for field, variable in pairs.items():
        if env.get(variable):
            values[field] = env[variable]
    return StudioSettings.model_validate(values)
