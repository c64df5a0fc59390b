"""Try a version in a test chat without serving it: a `persian-chat serve` of its own on a
free loopback port, one at a time, stopped when another version is tried or the studio
stops. It is a separate process (never the studio's), so the studio stays free of
onnxruntime; the served model and its clients are not touched.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 120.0
ANSWER_TIMEOUT_S = 120.0


class TrialError(RuntimeError):
    """The trial server did not start or did not answer; the message is for the page."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TrialServer:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.version = ""
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self, version: str, served_dir: Path) -> None:
        """Serve `served_dir` for trying (the one running before is stopped first)."""
        with self._lock:
            if self.version == version and self._alive():
                return
            self._stop()
            port = _free_port()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.log_dir / "trial-serve.log").open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "persian_chat.cli",
                        "serve",
                        "--model",
                        str(served_dir),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self.url, self.version = f"http://127.0.0.1:{port}", version
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if not self._alive():
                    self._stop()
                    raise TrialError(f"مدل {version} بارگذاری نشد (trial-serve.log را ببینید)")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self._stop()
                    raise TrialError(f"مدل {version} در {int(START_TIMEOUT_S)} ثانیه آماده نشد")
                time.sleep(0.2)

    def ask(self, question: str, max_tokens: int = 128) -> str:
        """One answer from the version being tried (the default sampling of the server)."""
        if not self._alive():
            raise TrialError("نخست نسخه‌ای را برای آزمودن برگزینید")
        try:
            response = httpx.post(
                f"{self.url}/v1/chat/completions",
                json={
                    "messages": [{"role": "user", "content": question}],
                    "max_tokens": max_tokens,
                },
                timeout=ANSWER_TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            raise TrialError(f"پاسخی نیامد: {exc}") from None
        if response.status_code != 200:
            raise TrialError(f"پاسخی نیامد ({response.status_code}): {response.text[:200]}")
        return str(response.json()["choices"][0]["message"]["content"])

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(15)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        self.version = self.url = ""

    def stop(self) -> None:
        with self._lock:
            self._stop()
