"""Server settings: limits, batching, auth and CORS, with the defaults a small VPS needs.

Every limit is here so the HTTP layer can name it in its 4xx answers, and so `persian-chat
serve --help`, the systemd environment file and the tests all speak of the same values.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


def physical_cores() -> int:
    """Physical cores (onnxruntime runs best with one thread per core, not per hyperthread)."""
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except ImportError:  # pragma: no cover - psutil is in the serve extra
        cores = None
    return max(1, cores or os.cpu_count() or 1)


class ServerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model_dir: Path
    threads: int = Field(default_factory=physical_cores, ge=1)
    max_batch: int = Field(8, ge=1)  # sequences decoded together
    max_waiting: int = Field(16, ge=0)  # queued beyond the batch; more get 429
    # request limits
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    max_messages: int = Field(64, ge=1)
    max_message_chars: int = Field(8000, ge=1)
    max_total_chars: int = Field(32000, ge=1)
    max_prompt_tokens: int | None = None  # None: the model's context minus room for a reply
    max_tokens_limit: int = Field(1024, ge=1)  # the largest max_tokens a client may ask for
    default_max_tokens: int = Field(256, ge=1)
    max_stop_strings: int = Field(4, ge=0)
    # access
    api_keys: frozenset[str] = frozenset()  # empty: no auth
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = Field(120, ge=0)  # per API key (or client IP); 0: off
    # operations
    system_prompt: str | None = None  # None: the one recorded with the model
    log_user_text: bool = False
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    verify_model: bool = True


def load_api_keys(environ_value: str | None, file: Path | None) -> frozenset[str]:
    """Keys from PERSIAN_CHAT_API_KEYS (comma-separated) and/or a file (one per line, `#`
    comments). A file that is named but unreadable or empty is an error, never 'no auth'."""
    keys = {k.strip() for k in (environ_value or "").split(",") if k.strip()}
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"{file}: cannot read API keys ({exc.strerror})") from None
        from_file = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
        if not from_file:
            raise ValueError(f"{file}: no API keys in the file")
        keys |= from_file
    short = [k for k in keys if len(k) < 16]
    if short:
        raise ValueError("API keys must be at least 16 characters long")
    return frozenset(keys)
