"""Start `persian-chat ui` or `persian-chat studio` as a real process for browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ..server.live_server import clean_environment, free_port


@contextlib.contextmanager
def running_ui(
    command: str,
    args: list[str],
    log: Path,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """The app's URL once it answers; on exit it is stopped with everything it started
    (reflex, its backend worker and bun share the new session's process group)."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "persian_chat.cli",
                command,
                "--port",
                str(port),
                "--host",
                host,
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**clean_environment(), **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace"))
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
