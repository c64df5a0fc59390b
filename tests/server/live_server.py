"""Start a real `persian-chat serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from persian_chat.benchmarks.serving_load import free_port


def clean_environment() -> dict[str, str]:
    """This process's environment without PERSIAN_CHAT_* settings: a developer's shell
    (an exported API key, say) must not change the server a test starts. The suite's own
    run mark (tests/conftest.py) stays: it finds processes that outlive the suite."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PERSIAN_CHAT_") or k == "PERSIAN_CHAT_TEST_RUN"
    }


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
    # the project's knowledge base only where a test names one: the tiny models' prompts
    # stay what each test expects
    knowledge = [] if "--knowledge" in args else ["--no-knowledge"]
    command = [
        sys.executable,
        "-m",
        "persian_chat.cli",
        "serve",
        "--model",
        str(model_dir),
        "--port",
        str(port),
        "--threads",
        "1",
        *knowledge,
        *args,
    ]
    started = time.monotonic()
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**clean_environment(), **(env or {})},
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


def wait_ready(client: Any, timeout: float = 60) -> None:
    """Wait until a TestClient's app answers /health with 200."""
    deadline = time.monotonic() + timeout
    while client.get("/health").status_code != 200:
        assert time.monotonic() < deadline, client.get("/health").json()
        time.sleep(0.05)


@dataclass
class InProcessServer:
    """The real app under uvicorn in a thread, so a test can reach into its engine."""

    url: str
    runtime: Any  # the runtime loaded at start-up
    server: Any
    thread: threading.Thread
    app: Any = None

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_in_process(
    model_dir: Path, step_delay: float = 0.0, loader: Any = None, **settings: Any
) -> InProcessServer:
    """Serve `model_dir` on a free loopback port; `step_delay` slows every decoding step so
    that streaming and stopping can be observed with a tiny, very fast model; `loader`
    replaces `load_runtime` (a test can hold a model switch while it loads)."""
    import uvicorn

    from persian_chat.server.http.app import create_app
    from persian_chat.server.http.runtime import load_runtime
    from persian_chat.server.http.serve import uvicorn_config
    from persian_chat.server.settings import ServerSettings

    app = create_app(
        ServerSettings(model_dir=model_dir, threads=1, **settings), loader or load_runtime
    )
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, app.state.app_state.settings, port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"in-process server on {url} not ready in 60 s")
        time.sleep(0.1)
    runtime = app.state.app_state.runtime
    if step_delay:
        original = runtime.engine.decoder.step

        def slow_step(*args: Any, **kwargs: Any) -> Any:
            time.sleep(step_delay)
            return original(*args, **kwargs)

        runtime.engine.decoder.step = slow_step
    return InProcessServer(url, runtime, server, thread, app)
