"""Server settings: limits, batching, auth and CORS, with the defaults a small VPS needs.

Every limit is here so the HTTP layer can name it in its 4xx answers, and so `persian-chat
serve --help`, the systemd environment file and the tests all speak of the same values.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from persian_chat.knowledge import DEFAULT_PASSAGES, DEFAULT_TOKEN_BUDGET


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the container may use (cgroup v2 cpu.max or v1 cfs quota); None: no limit."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu/cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu/cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 else None
    except (OSError, ValueError):
        return None


def cpu_budget() -> dict[str, float | int | None]:
    """What limits the threads: physical cores, the CPUs this process may run on, and the
    cgroup quota (a 2-CPU container on a 64-core host must not start 64 threads)."""
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except ImportError:  # pragma: no cover - psutil is in the serve extra
        cores = None
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "physical_cores": cores or os.cpu_count(),
        "allowed_cpus": allowed,
        "cgroup_quota": cgroup_cpu_quota(),
    }


MIN_KEY_CHARS = 16


def default_threads() -> int:
    """Default threads: one per physical core (onnxruntime runs best so, not one per
    hyperthread), within the CPUs allowed and the cgroup quota."""
    budget = cpu_budget()
    limits = [int(v) for v in budget.values() if v is not None]
    return max(1, min(limits, default=1))


class ServerSettings(BaseModel):
    """Every field with a description is a `serve` option (`--max-body-bytes`) and an
    environment variable (`PERSIAN_CHAT_MAX_BODY_BYTES`); the defaults are set here only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_dir: Path
    # served beside model_dir, chosen by a request's `model` (their directory names); each
    # loads on first use (server/http/model_pool.py)
    more_models: tuple[Path, ...] = ()
    models_memory_mb: int | None = Field(
        None,
        ge=1,
        description="MiB the models besides the first may take together (their files' "
        "size); the least recently used is unloaded to make room (default: 80 percent of "
        "the memory available at start-up)",
    )
    threads: int = Field(default_factory=default_threads, ge=1)
    max_batch: int | None = Field(
        None,
        ge=1,
        description="sequences decoded together (default: measured at start-up, "
        "the fewest rows within 5 percent of the best throughput that memory allows)",
    )
    max_waiting: int = Field(16, ge=0, description="requests queued beyond the batch; more get 429")
    prompt_cache_mb: int = Field(
        64,
        ge=0,
        description="MiB of finished answers' KV kept so a conversation's next turn "
        "prefills only its new message; 0: off",
    )
    # a served directory may carry several weight formats (int8, int4): "auto" times a few
    # decode steps of each at start-up and serves the fastest (server/engine/weights_choice.py)
    weights: str = "auto"
    lookup_tokens: int = Field(
        0,
        ge=0,
        le=8,
        description="prompt-lookup draft tokens checked in one step when one "
        "answer runs alone (same text, fewer weight reads); 0: off",
    )
    # knowledge: passages retrieved for each request. `knowledge` (serve --knowledge) wins;
    # else a served model's own knowledge.jsonl (a studio version's), unless model_knowledge
    # is off (--no-knowledge); else knowledge_fallback (the project's, when serve finds it)
    knowledge: Path | None = None
    model_knowledge: bool = True
    knowledge_fallback: Path | None = None
    # a PostgreSQL knowledge base every replica searches (postgresql://...); when it is empty
    # at start-up it is filled from the passages file chosen above
    knowledge_url: str | None = Field(None, repr=False)
    knowledge_passages: int = Field(
        DEFAULT_PASSAGES, ge=1, le=20, description="passages retrieved for a request at most"
    )
    knowledge_tokens: int = Field(
        DEFAULT_TOKEN_BUDGET,
        ge=16,
        description="prompt tokens the retrieved passages may take at most",
    )
    knowledge_min_coverage: float = Field(
        0.4,
        ge=0,
        le=1,
        description="share of the question's information a passage must hold to be used "
        "(below it: nothing relevant, the model is told so)",
    )
    # request limits
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="largest request body (413)")
    max_json_depth: int = Field(32, ge=4, description="deepest JSON nesting in a body")
    max_messages: int = Field(64, ge=1, description="messages in one request")
    max_message_chars: int = Field(8000, ge=1, description="characters in one message")
    max_total_chars: int = Field(32000, ge=1, description="characters in all messages together")
    max_prompt_tokens: int | None = Field(
        None,
        ge=1,
        description="prompt tokens after the chat template (default: the model's "
        "context minus room for the reply)",
    )
    max_tokens_limit: int = Field(1024, ge=1, description="largest max_tokens a client may ask for")
    default_max_tokens: int = Field(256, ge=1, description="max_tokens when the client sends none")
    max_stop_strings: int = Field(4, ge=0, description="stop strings in one request")
    max_stop_chars: int = Field(64, ge=1, description="characters in one stop string")
    # access
    api_keys: frozenset[str] = frozenset()  # empty: no auth
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = Field(
        120, ge=0, description="requests per minute per API key (or client IP without keys); 0: off"
    )
    auth_failures_per_minute: int = Field(
        10,
        ge=0,
        description="failed authentications per minute per client address (and per presented "
        "key prefix) before 429; a valid key is never refused; 0: off",
    )
    # addresses or networks of proxies whose X-Forwarded-For is believed (nginx, the UI's
    # back end); from anyone else the header is ignored
    trusted_proxies: tuple[str, ...] = ()
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="seconds a connection may take to send a request's headers"
    )
    # operations
    system_prompt: str | None = None  # None: the one recorded with the model
    log_user_text: bool = False
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="seconds running answers may take to finish on shutdown"
    )
    resume_grace_seconds: float = Field(
        10.0, ge=0, description="seconds a resumable stream waits for its client to reconnect"
    )
    switch_grace_seconds: float = Field(
        300.0,
        ge=0,
        description="seconds answers running on the old model may take to finish "
        "after POST /admin/model switched models",
    )
    # the bearer key of /admin/model; None: the admin routes answer 403. Not an option: it
    # comes from PERSIAN_CHAT_ADMIN_KEY or --admin-key-file, and repr never shows it
    admin_key: str | None = Field(None, min_length=MIN_KEY_CHARS, repr=False)
    verify_model: bool = True

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {proxy!r} is not an address or network") from None
        return value


# the settings `serve` exposes as --options and PERSIAN_CHAT_* variables, generated from above
TUNABLE = tuple(name for name, f in ServerSettings.model_fields.items() if f.description)


def load_api_keys(environ_value: str | None, file: Path | None) -> frozenset[str]:
    """Keys from PERSIAN_CHAT_API_KEYS (comma-separated) and/or a file (one per line, `#`
    comments), each at least 16 characters. A setting that is given but holds no key (an
    empty file, a variable of only commas and spaces) is an error, never 'no auth'."""
    keys = {k.strip() for k in (environ_value or "").split(",") if k.strip()}
    if environ_value is not None and environ_value != "" and not keys:
        raise ValueError("PERSIAN_CHAT_API_KEYS is set but holds no key")
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"{file}: cannot read API keys ({exc.strerror})") from None
        from_file = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
        if not from_file:
            raise ValueError(f"{file}: no API keys in the file")
        keys |= from_file
    short = [k for k in keys if len(k) < MIN_KEY_CHARS]
    if short:
        raise ValueError(f"API keys must be at least {MIN_KEY_CHARS} characters long")
    return frozenset(keys)


def load_admin_key(environ_value: str | None, file: Path | None) -> str | None:
    """The admin key from PERSIAN_CHAT_ADMIN_KEY or from a file (its first line that is not
    empty or a `#` comment); None when neither is set. Like the API keys it fails closed: a
    setting that holds no key, a short key, or both settings at once stop the server."""
    value = (environ_value or "").strip()
    if environ_value and not value:
        raise ValueError("PERSIAN_CHAT_ADMIN_KEY is set but holds no key")
    if file is not None:
        if value:
            raise ValueError("set PERSIAN_CHAT_ADMIN_KEY or --admin-key-file, not both")
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"{file}: cannot read the admin key ({exc.strerror})") from None
        value = next((s for s in map(str.strip, lines) if s and not s.startswith("#")), "")
        if not value:
            raise ValueError(f"{file}: no admin key in the file")
    if value and len(value) < MIN_KEY_CHARS:
        raise ValueError(f"the admin key must be at least {MIN_KEY_CHARS} characters long")
    return value or None
