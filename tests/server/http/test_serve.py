from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live_server import LiveServer, start_server

KEY = "live-test-key-0123456789"
HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]


@pytest.fixture(scope="module")
def server(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("live") / "server.log"
    live = start_server(tiny_served_dir, log, {"PERSIAN_CHAT_API_KEYS": KEY})
    yield live
    live.stop()


def request_logs(server: LiveServer) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_starts_without_torch(server: LiveServer) -> None:
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "libtorch" not in maps and "/torch/" not in maps
    assert "onnxruntime" in maps  # the check can see native libraries


def test_openai_client_unchanged(server: LiveServer) -> None:
    from openai import AuthenticationError, OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=KEY)
    [model] = client.models.list().data
    whole = client.chat.completions.create(
        model=model.id,
        messages=HELLO,
        temperature=0,
        max_tokens=16,  # type: ignore[arg-type]
    )
    text = whole.choices[0].message.content
    assert whole.usage is not None and whole.usage.completion_tokens <= 16
    assert whole.choices[0].finish_reason in ("stop", "length") and isinstance(text, str)
    stream = client.chat.completions.create(
        model=model.id,
        messages=HELLO,
        temperature=0,
        max_tokens=16,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert (
        chunks[-1].usage is not None and chunks[-1].usage.total_tokens == whole.usage.total_tokens
    )
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"{server.url}/v1", api_key="wrong-key-0123456789").models.list()


def test_openai_client_reads_logprobs_streamed_and_whole(server: LiveServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=KEY)
    asked = {
        "messages": HELLO,
        "temperature": 0,
        "max_tokens": 12,
        "logprobs": True,
        "top_logprobs": 3,
        "model": client.models.list().data[0].id,
    }
    whole = client.chat.completions.create(**asked)  # type: ignore[call-overload]
    logprobs = whole.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    assert len(logprobs.content) == whole.usage.completion_tokens  # the stop token is not one
    for entry in logprobs.content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        tops = [t.logprob for t in entry.top_logprobs]
        assert tops == sorted(tops, reverse=True)
        assert entry.logprob <= tops[0] + 1e-9  # raw log-softmax: nothing beats the best
    text = b"".join(bytes(e.bytes) for e in logprobs.content).decode("utf-8")
    assert text.strip() == (whole.choices[0].message.content or "").strip()
    stream = client.chat.completions.create(**asked, stream=True)  # type: ignore[call-overload]
    streamed = [
        e
        for c in stream
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content or []
    ]
    assert [(e.token, e.logprob) for e in streamed] == [
        (e.token, e.logprob) for e in logprobs.content
    ]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "هوای امروز یک شهر",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 12},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"enum": ["Asia/Tehran", "UTC"]}},
            "required": ["zone"],
        },
    },
}


def test_openai_client_gets_forced_tool_calls_and_continues_after_a_tool(
    server: LiveServer,
) -> None:
    """A random model's answer is a valid call only because the grammar forces it."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=KEY)
    messages: list[Any] = [{"role": "user", "content": "هوای شیراز فردا چطور است؟"}]
    named = {"type": "function", "function": {"name": "get_weather"}}
    whole = client.chat.completions.create(
        model="served",
        messages=messages,
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice=named,  # type: ignore[arg-type]
        max_tokens=200,
        seed=1,
    )
    choice = whole.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert call.function.name == "get_weather" and set(arguments) == {"city", "days"}  # type: ignore[union-attr]
    assert 1 <= arguments["days"] <= 7 and call.id.startswith("call_")

    stream = client.chat.completions.create(
        model="served",
        messages=messages,
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=200,
        seed=2,
        stream=True,
    )
    name, pieces, reasons = "", [], []
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            name += delta_call.function.name or ""  # type: ignore[union-attr]
            pieces.append(delta_call.function.arguments or "")  # type: ignore[union-attr]
        reasons.append(chunk.choices[0].finish_reason)
    assert name in ("get_weather", "get_time") and reasons[-1] == "tool_calls"
    streamed = json.loads("".join(pieces))
    assert set(streamed) == ({"city", "days"} if name == "get_weather" else {"zone"})

    # the tool's reply continues the chat: the answer is text again
    history = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "آفتابی، ۲۴ درجه"},
    ]
    after = client.chat.completions.create(
        model="served",
        messages=history,
        tools=[WEATHER],
        max_tokens=8,
        seed=3,  # type: ignore[arg-type, list-item]
    )
    assert after.choices[0].finish_reason in ("stop", "length")
    assert after.choices[0].message.tool_calls is None


def test_openai_client_completes_and_scores_a_prompt(server: LiveServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key=KEY)
    reply = client.completions.create(
        model="served", prompt="سلام، حال", max_tokens=4, echo=True, logprobs=1, temperature=0
    )
    choice = reply.choices[0]
    assert choice.text.startswith("سلام، حال") and choice.logprobs is not None
    assert choice.logprobs.token_logprobs is not None
    # every prompt token is scored after the <bos> the server puts first
    assert all(lp is not None and lp <= 0 for lp in choice.logprobs.token_logprobs)


def test_stream_arrives_token_by_token(server: LiveServer) -> None:
    arrivals = []
    body = {"messages": HELLO, "max_tokens": 40, "temperature": 0}
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(json.loads(line[6:]))
    assert arrivals[-1]["done"] is True
    assert len(arrivals) > 3 and all("token" in a for a in arrivals[:-1])


def test_closed_socket_stops_generation(server: LiveServer) -> None:
    """A client that hangs up mid-answer ends its generation (logged as 499). A sampled
    answer can also end by itself before the server sees the hang-up: then the next seed."""
    host, port = server.url.removeprefix("http://").split(":")
    stopped: list[dict[str, object]] = []
    for seed in (3, 5, 7, 11, 13):
        body = json.dumps(
            {
                "messages": HELLO,
                "max_tokens": 1000,
                "temperature": 1.0,
                "seed": seed,
                "repetition_penalty": 1.1,
            }
        ).encode()
        head = (
            f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            "\r\n\r\n"
        )
        before = len(request_logs(server))
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head.encode() + body)
            received = b""
            while b'"token"' not in received:
                received += sock.recv(4096)
        deadline = time.monotonic() + 10
        while len(request_logs(server)) == before:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        stopped = [r for r in request_logs(server)[before:] if r["status"] == 499]
        if stopped:
            break
    [record] = stopped
    assert record["error"] == "client disconnected"
    prompt = int(str(record["prompt_tokens"]))
    assert int(str(record["completion_tokens"])) < 512 - prompt  # stopped before the end
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "persian_chat_active_sequences 0.0" in metrics


def test_validate_api_script_passes_and_fails(server: LiveServer, repo: Path) -> None:
    script = str(repo / "scripts" / "validate_api.sh")
    ok = subprocess.run(
        [script, server.url],
        env={"API_KEY": KEY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout
    assert "all checks passed" in ok.stdout and "FAIL" not in ok.stdout
    wrong = subprocess.run(
        [script, server.url],
        env={"API_KEY": "", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1 and "FAIL  models" in wrong.stdout
    down = subprocess.run([script, "http://127.0.0.1:9"], capture_output=True, text=True)
    assert down.returncode == 1


def test_sigterm_lets_streams_end_and_exits(tiny_served_dir: Path, tmp_path: Path) -> None:
    live = start_server(tiny_served_dir, tmp_path / "server.log", {}, "--shutdown-grace", "0")
    with httpx.stream(
        "POST",
        f"{live.url}/api/chat",
        json={"messages": HELLO, "max_tokens": 1000, "temperature": 1.0},
        timeout=30,
    ) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        live.process.send_signal(signal.SIGTERM)
        rest = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert "token" in json.loads(first[6:])
    assert rest and ("error" in rest[-1] or rest[-1].get("done") is True)
    # uvicorn re-raises the signal once it has shut down cleanly (systemd counts that as a
    # clean stop); what matters is that it exits promptly with no hung thread
    assert live.process.wait(30) in (0, -signal.SIGTERM)
    assert "Traceback" not in live.log()


def test_serve_exits_non_zero_when_the_engine_loop_dies(
    tiny_served_dir: Path, tmp_path: Path
) -> None:
    """A supervisor (systemd's Restart=on-failure) can only restart a server that exits."""
    import sys

    from tests.server.live_server import free_port

    inject = (
        "import sys\nimport persian_chat.server.engine.core as engine\n"
        "def crash(self, batch):\n    raise RuntimeError('injected engine bug')\n"
        "engine.Engine._decode = crash\nfrom persian_chat.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            inject,
            "serve",
            "--model",
            str(tiny_served_dir),
            "--port",
            str(port),
            "--threads",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        # a fixed seed: an unseeded first token may be the stop token, and then the answer
        # ends at prefill without the (crashing) decode step
        body = {"messages": HELLO, "stream": False, "seed": 3, "knowledge": False}
        reply = httpx.post(f"{url}/api/chat", json=body, timeout=30)
        assert reply.status_code == 500
        assert process.wait(30) != 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = (tmp_path / "serve.log").read_text()
    assert "injected engine bug" in output and "stopped: engine stopped" in output
