"""deploy/nginx/persian-chat.conf with the real nginx: a self-signed certificate instead of
Let's Encrypt, high ports instead of 80/443, two real server replicas; nothing else changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..server.live_server import InProcessServer, free_port, start_in_process

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KEY = "nginx-test-key-0123456789"
# several clients: nginx spreads clients (key and address) over the replicas. Sixteen keys
# with unrelated bytes: nginx hashes them with CRC32 onto points placed by the replicas'
# (random) ports, and eight keys differing in one character all landed on one replica for
# about 4% of port pairs (an emulation of nginx's consistent hash; 2 of 5 full runs failed)
KEYS = [KEY, *(hashlib.sha256(f"nginx-test-key-{n}".encode()).hexdigest()[:32] for n in range(15))]
DOMAIN_CERTS = "/etc/letsencrypt/live/chat.example.com/"
HELLO = [{"role": "user", "content": "سلام، حالت چطور است؟"}]

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx")


@dataclass
class Proxy:
    https: str
    http: str
    cert: Path
    replicas: list[InProcessServer]


def render(
    shipped: str,
    cert_dir: Path,
    webroot: Path,
    http_port: int,
    https_port: int,
    api_ports: list[int],
    ui_port: int,
) -> str:
    """The shipped config with only paths and ports swapped for the test machine."""
    replacements = {
        DOMAIN_CERTS: f"{cert_dir}/",
        "root /var/www/letsencrypt;": f"root {webroot};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "server 127.0.0.1:8000 ": f"server 127.0.0.1:{api_ports[0]} ",
        "server 127.0.0.1:8001 ": f"server 127.0.0.1:{api_ports[1]} ",
        "server 127.0.0.1:3000;": f"server 127.0.0.1:{ui_port};",
    }
    for old, new in replacements.items():
        assert old in shipped, old
        shipped = shipped.replace(old, new)
    return shipped


def main_config(prefix: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {prefix}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\nerror_log {prefix}/error.log warn;\npid {prefix}/nginx.pid;\n"
        f"events {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n{temp}\n"
        f"  include {prefix}/persian-chat.conf;\n}}\n"
    )


def self_signed(directory: Path) -> Path:
    directory.mkdir(parents=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(directory / "privkey.pem"),
            "-out",
            str(directory / "fullchain.pem"),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return directory / "fullchain.pem"


def nginx(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), *args],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def proxy(
    repo: Path, tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    prefix = tmp_path_factory.mktemp("nginx")
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True)
    cert = self_signed(prefix / "certs")
    replicas = [
        start_in_process(
            tiny_served_dir,
            0.015,
            api_keys=frozenset(KEYS),
            rate_limit_per_minute=0,
            resume_grace_seconds=120.0,
        )
        for _ in range(2)
    ]
    api_ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
    http_port, https_port = free_port(), free_port()
    shipped = (repo / "deploy/nginx/persian-chat.conf").read_text(encoding="utf-8")
    config = render(shipped, cert.parent, prefix, http_port, https_port, api_ports, free_port())
    (prefix / "persian-chat.conf").write_text(config, encoding="utf-8")
    (prefix / "nginx.conf").write_text(main_config(prefix), encoding="utf-8")
    checked = nginx(prefix, "-t")
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    https = f"https://127.0.0.1:{https_port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{https}/health", verify=str(cert))
            break
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    yield Proxy(https, f"http://127.0.0.1:{http_port}", cert, replicas)
    process.terminate()
    process.wait(10)
    for replica in replicas:
        replica.stop()


def client(proxy: Proxy, key: str = KEY) -> httpx.Client:
    return httpx.Client(
        base_url=proxy.https,
        verify=str(proxy.cert),
        timeout=60,
        headers={"Authorization": f"Bearer {key}"},
    )


def test_health_and_security_headers_over_https(proxy: Proxy) -> None:
    with client(proxy) as c:
        response = c.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.http_version in ("HTTP/1.1", "HTTP/2")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "server" not in response.headers or "/" not in response.headers["server"]


def test_http_redirects_to_https(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.http}/api/chat?x=1", follow_redirects=False)
    assert response.status_code == 301
    assert (
        response.headers["location"].startswith("https://")
        and "/api/chat?x=1" in response.headers["location"]
    )


def test_stream_arrives_token_by_token_through_nginx(proxy: Proxy) -> None:
    generating: list[bool] = []  # per event: was the answer still being generated?
    body = {"messages": HELLO, "max_tokens": 60, "temperature": 0}
    with client(proxy) as c, c.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                generating.append(any(r.runtime.engine.active for r in proxy.replicas))
                last = json.loads(line[6:])
    assert last["done"] is True
    tokens = last["usage"]["completion_tokens"]
    assert tokens >= 20
    # a buffering proxy would deliver every event after the answer ended
    assert sum(generating) >= tokens // 2, (sum(generating), tokens)


def test_body_size_limit(proxy: Proxy) -> None:
    big = {"messages": [{"role": "user", "content": "x" * 300_000}]}
    with client(proxy) as c:
        response = c.post("/api/chat", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def _chat_ok_count(replica: InProcessServer) -> float:
    metrics = httpx.get(f"{replica.url}/metrics").text
    ok = 'persian_chat_requests_total{route="/api/chat",status="200"}'
    return float(next((x.split()[-1] for x in metrics.splitlines() if x.startswith(ok)), 0))


def test_requests_are_spread_over_both_replicas(proxy: Proxy) -> None:
    before = [_chat_ok_count(replica) for replica in proxy.replicas]
    for key in KEYS:
        with client(proxy, key) as c:
            body = {"messages": HELLO, "max_tokens": 2, "stream": False}
            assert c.post("/api/chat", json=body).status_code == 200
    served = [_chat_ok_count(r) - b for r, b in zip(proxy.replicas, before, strict=True)]
    assert sum(served) == len(KEYS) and all(count >= 1 for count in served), served
    with client(proxy) as c:
        assert c.get("/metrics").status_code == 404  # not public through nginx


def read_events(c: httpx.Client, body: dict[str, object], count: int) -> list[str]:
    """The event ids of the first `count` events of a resumable stream; then it is cut."""
    ids: list[str] = []
    with c.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(line[4:])
                if len(ids) == count:
                    break
    return ids


def replica_of(proxy: Proxy, request_id: str) -> InProcessServer:
    return next(r for r in proxy.replicas if request_id in r.app.state.app_state.replays)


def test_resume_and_stop_reach_the_replica_of_their_stream(proxy: Proxy) -> None:
    """Every client (sixteen keys, spread over both replicas) resumes a cut stream and stops
    another through nginx; the stopped one's replica decodes at most two more steps."""
    time.sleep(4)  # let the per-address rate limit refill (5/s, burst 20)
    body = {"messages": HELLO, "max_tokens": 300, "temperature": 0, "resumable": True}
    used = set()
    for key in KEYS:
        time.sleep(0.8)  # four requests a client: stay within nginx's 5 per second
        with client(proxy, key) as c:
            short = {**body, "max_tokens": 12}
            ids = read_events(c, short, 3)
            resumed = c.post("/api/chat", json=short, headers={"Last-Event-ID": ids[-1]})
            assert resumed.status_code == 200, resumed.text
            assert resumed.text.startswith(f"id: {ids[-1].rsplit(':', 1)[0]}:3")
            assert '"done": true' in resumed.text.replace('"done":true', '"done": true')
            request_id = read_events(c, body, 2)[0].rsplit(":", 1)[0]
            replica = replica_of(proxy, request_id)
            used.add(replica.url)
            stopped = c.delete(f"/api/chat/{request_id}")
            steps = replica.runtime.engine.steps
            assert stopped.json() == {"id": request_id, "cancelled": True}, stopped.text
            deadline = time.monotonic() + 10
            while replica.runtime.engine.active:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert replica.runtime.engine.steps - steps <= 2
    assert len(used) == 2  # the clients were spread over both replicas


def test_validate_api_script_through_nginx(proxy: Proxy, repo: Path) -> None:
    time.sleep(4)  # let the per-address rate limit refill (5/s, burst 20)
    env = {
        "PATH": os.environ["PATH"],
        "API_KEY": KEY,
        "CHECK_METRICS": "0",
        "CURL_OPTS": f"--cacert {proxy.cert}",
    }
    result = subprocess.run(
        [str(repo / "scripts/validate_api.sh"), proxy.https],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_rate_limit_answers_429(proxy: Proxy) -> None:
    time.sleep(4)
    with client(proxy) as c:
        replies = [c.get("/v1/models") for _ in range(40)]
    statuses = [r.status_code for r in replies]
    assert 200 in statuses and 429 in statuses
    limited = replies[statuses.index(429)]
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert limited.headers["x-content-type-options"] == "nosniff"  # the server's headers too


def test_systemd_units_run_valid_commands(repo: Path) -> None:
    from persian_chat.cli import build_parser

    for unit in (repo / "deploy/systemd").glob("*.service"):
        text = unit.read_text(encoding="utf-8")
        assert "User=persian-chat" in text and "Restart=on-failure" in text
        assert "MemoryMax=" in text and "EnvironmentFile=/etc/persian-chat/persian-chat.env" in text
        exec_start = next(x for x in text.splitlines() if x.startswith("ExecStart="))
        argv = exec_start.removeprefix("ExecStart=").replace("%i", "8000").split()
        assert argv[0].endswith("/persian-chat")
        build_parser().parse_args(argv[1:])  # exits with an error on a bad option
    env_file = (repo / "deploy/systemd/persian-chat.env").read_text(encoding="utf-8")
    names = {x.split("=")[0] for x in env_file.splitlines() if x and not x.startswith("#")}
    from persian_chat.server.http.serve import environment_variables

    read = environment_variables()
    assert {"PERSIAN_CHAT_MAX_WAITING", "PERSIAN_CHAT_MODEL", "PERSIAN_CHAT_API_KEYS"} <= read
    assert names - {"PERSIAN_CHAT_API_URL"} <= read, names - read
    # server/settings.py is the one source of defaults: the env file never restates one
    from persian_chat.server.http.serve import _option
    from persian_chat.server.settings import TUNABLE, ServerSettings

    defaults = {
        f"PERSIAN_CHAT_{_option(n)[1]}": ServerSettings.model_fields[n].default for n in TUNABLE
    }
    pairs = [x.split("=", 1) for x in env_file.splitlines() if x and not x.startswith("#")]
    assert not [k for k, v in pairs if k in defaults and float(v) == defaults[k]]
