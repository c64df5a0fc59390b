"""Start a real `persian-chat serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    started_in: float

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout)


def start_server(
    model_dir: Path, log_path: Path, env: dict[str, str] | None = None, *args: str
) -> LiveServer:
    port = free_port()
    command = [sys.executable, "-m", "persian_chat.cli", "serve", "--model", str(model_dir),
               "--port", str(port), "--threads", "1", *args]  # fmt: skip
    started = time.monotonic()
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(process, url, log_path, 0.0)
    deadline = started + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server not ready in 90 s:\n{server.log()}")
        time.sleep(0.1)
    server.started_in = time.monotonic() - started
    return server
