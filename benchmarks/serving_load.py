"""The server under load: start `persian-chat serve` on loopback, then 1, 4, 8 and 16
concurrent streaming clients (async httpx), each level bounded in requests and time.

Reports per level: aggregate generated tokens/s, time to first token p50/p95, inter-token
latency p50/p95 (between streamed events), errors; and for the server: start-up time, RSS at
idle and peak RSS under load, and the served model's fp32/int8 sizes from logs/export.json.
Prompts are the first user turns of datasets/test.jsonl, a different one for every request
of the run, so no level is helped by the prompt cache remembering an earlier level's.

Then multi-turn chats, one client: each conversation resends its history every turn, as
the web UI does; time to first token by turn with the server's prompt cache on (default),
then again with a server started with `--prompt-cache-mb 0`.

    persian-chat bench serving [--model models/persian-chat-onnx-int8] [--levels 1 4 8 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import (
    RESULTS,
    load_average,
    machine_info,
    publish,
    save_plot,
)

TURNS_HEADER = ["prompt cache", "turn", "prompt tokens p50", "TTFT p50 ms", "TTFT p95 ms"]
HEADER = [
    "clients",
    "requests",
    "errors",
    "aggregate tok/s",
    "TTFT p50 ms",
    "TTFT p95 ms",
    "ITL p50 ms",
    "ITL p95 ms",
]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class RssSampler(threading.Thread):
    """Peak resident memory of a process, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def current(self) -> int:
        return int(self.process.memory_info().rss)

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.current())
            except Exception:  # the process ended
                return
            time.sleep(0.05)


def user_prompts(data: Path, count: int) -> list[str]:
    """`count` first user turns spread evenly over the test set, in a fixed shuffled order:
    the file is grouped by domain (it opens with Hafez), so its first lines alone would
    measure one kind of question."""
    import random

    candidates = []
    for line in (data / "test.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        users = [m["content"] for m in messages if m["role"] == "user"]
        if users and len(users[0]) < 400:
            candidates.append(users[0])
    step = max(1, len(candidates) // max(count, 1))
    prompts = candidates[::step][:count]
    random.Random(0).shuffle(prompts)
    return prompts


class RefusedError(Exception):
    """The server answered a chat request with a status other than 200."""


async def chat_events(client: Any, url: str, body: dict[str, Any]) -> AsyncIterator[Any]:
    """The SSE events of one streamed POST /api/chat, as JSON."""
    async with client.stream("POST", f"{url}/api/chat", json=body) as response:
        if response.status_code != 200:
            raise RefusedError(f"HTTP {response.status_code}")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


async def one_request(
    client: Any, url: str, prompt: str, max_tokens: int, seed: int
) -> dict[str, Any]:
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "seed": seed,
        "stream": True,
    }
    start = time.perf_counter()
    times: list[float] = []
    tokens = 0
    try:
        async for event in chat_events(client, url, body):
            if "token" in event:
                times.append(time.perf_counter())
            elif event.get("done"):
                tokens = int(event["usage"]["completion_tokens"])
            elif "error" in event:
                return {"error": event["error"]["message"]}
    except RefusedError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # connection errors count as errors, the run goes on
        return {"error": type(exc).__name__}
    return {
        "tokens": tokens,
        "ttft": times[0] - start if times else None,
        "itl": [b - a for a, b in itertools.pairwise(times)],
    }


async def level(
    url: str, clients: int, prompts: list[str], per_client: int, max_tokens: int, time_limit: float
) -> dict[str, Any]:
    import httpx

    results: list[dict[str, Any]] = []
    deadline = time.perf_counter() + time_limit

    async def client_loop(index: int, client: Any) -> None:
        for k in range(per_client):
            if time.perf_counter() > deadline:
                return
            prompt = prompts[(index * per_client + k) % len(prompts)]
            results.append(await one_request(client, url, prompt, max_tokens, index * 1000 + k))

    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        await asyncio.gather(*(client_loop(i, client) for i in range(clients)))
    wall = time.perf_counter() - start
    ok = [r for r in results if "error" not in r]
    ttfts = [r["ttft"] for r in ok if r["ttft"] is not None]
    itls = [gap for r in ok for gap in r["itl"]]
    tokens = sum(r["tokens"] for r in ok)
    return {
        "clients": clients,
        "requests": len(results),
        "errors": len(results) - len(ok),
        "error_kinds": sorted({r["error"] for r in results if "error" in r}),
        "wall_s": wall,
        "tokens": tokens,
        "aggregate_tokens_per_sec": tokens / wall,
        "ttft_p50_s": percentile(ttfts, 0.5),
        "ttft_p95_s": percentile(ttfts, 0.95),
        "itl_p50_s": percentile(itls, 0.5),
        "itl_p95_s": percentile(itls, 0.95),
    }


async def prompt_ids(url: str, prompts: list[str]) -> list[list[int]]:
    """The exact ids a chat request costs (normalized, system prompt, template): /tokenize."""
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        ids = []
        for prompt in prompts:
            body = {"messages": [{"role": "user", "content": prompt}]}
            response = await client.post(f"{url}/tokenize", json=body)
            response.raise_for_status()
            ids.append(response.json()["tokens"])
        return ids


def run_prompts(
    engine: Any, prompts: list[list[int]], params: Any, tokens: int, stop_ids: frozenset[int]
) -> tuple[list[list[int]], float]:
    """Every prompt in turn through an in-process engine (seed = its index); the answers
    and the wall time."""
    from dataclasses import replace

    from persian_chat.server.engine.generation import GenerationRequest

    async def ask(ids: list[int], seed: int) -> list[int]:
        request = GenerationRequest(ids, replace(params, seed=seed), tokens, stop_ids)
        sequence = engine.submit(request, asyncio.get_running_loop())
        return [int(t) async for t in sequence.tokens()]

    start = time.perf_counter()
    answers = [asyncio.run(ask(ids, seed)) for seed, ids in enumerate(prompts)]
    return answers, time.perf_counter() - start


def engine_alone(
    model_dir: Path, prompts: list[list[int]], max_tokens: int, threads: int, max_batch: int
) -> dict[str, Any]:
    """The one-client level without the server: the same prompt ids, sampling settings and
    seeds through an in-process engine built as the server builds it (for the levels: no
    prompt cache), one after another."""
    from persian_chat.server.engine.sampling import DEFAULT_SAMPLING
    from persian_chat.server.http.runtime import build_engine
    from persian_chat.server.kv.onnx_model import load_decoder
    from persian_chat.server.settings import ServerSettings
    from persian_chat.server.text.prompt import system_prefix
    from persian_chat.server.text.served_model import load_served_model

    model = load_served_model(model_dir)
    settings = ServerSettings(model_dir=model_dir, threads=threads, max_batch=max_batch)
    engine = build_engine(
        model,
        load_decoder(model.onnx_path, threads),
        max_batch,
        16,
        system_prefix(model, settings),
        prompt_cache_mb=0,
    )
    engine.start()
    try:  # a warm-up, as the served run has one; then level 1's seeds: request k -> k
        run_prompts(engine, prompts[:1], DEFAULT_SAMPLING, 8, model.stop_ids)
        answers, wall = run_prompts(engine, prompts, DEFAULT_SAMPLING, max_tokens, model.stop_ids)
        generated = sum(map(len, answers))
    finally:
        engine.shutdown(0)
        engine.join(10)
    return {
        "requests": len(prompts),
        "tokens": generated,
        "wall_s": wall,
        "tokens_per_sec": generated / wall,
    }


async def conversations(
    url: str, openers: list[str], follow_ups: list[str], turns: int, max_tokens: int
) -> list[list[dict[str, float]]]:
    """One client, chats of `turns` turns (an opener, then follow-up questions), each turn
    sending the whole history: per chat and turn, the prompt tokens and the TTFT."""
    import httpx

    chats = []
    async with httpx.AsyncClient(timeout=300) as client:
        for number, opener in enumerate(openers):
            messages: list[dict[str, str]] = []
            record = []
            for turn in range(turns):
                question = opener if turn == 0 else follow_ups[(number + turn) % len(follow_ups)]
                messages.append({"role": "user", "content": question})
                body = {
                    "messages": messages,
                    "max_tokens": max_tokens,
                    "seed": number,
                    "stream": True,
                }
                start, first, text, prompt_tokens = time.perf_counter(), None, [], 0
                async for event in chat_events(client, url, body):
                    if "token" in event:
                        first = first or time.perf_counter()
                        text.append(event["token"])
                    elif event.get("done"):
                        prompt_tokens = int(event["usage"]["prompt_tokens"])
                messages.append({"role": "assistant", "content": "".join(text) or "."})
                record.append(
                    {
                        "prompt_tokens": prompt_tokens,
                        "ttft_s": (first or time.perf_counter()) - start,
                    }
                )
            chats.append(record)
    return chats


def turn_rows(label: str, chats: list[list[dict[str, float]]]) -> list[dict[str, Any]]:
    """Per turn: median prompt tokens and TTFT p50 over the chats."""
    rows = []
    for turn in range(len(chats[0])):
        ttfts = [chat[turn]["ttft_s"] for chat in chats]
        tokens = sorted(chat[turn]["prompt_tokens"] for chat in chats)
        rows.append(
            {
                "prompt_cache": label,
                "turn": turn + 1,
                "prompt_tokens_p50": tokens[len(tokens) // 2],
                "ttft_p50_s": percentile(ttfts, 0.5),
                "ttft_p95_s": percentile(ttfts, 0.95),
            }
        )
    return rows


FOLLOW_UPS = [  # a user's usual next turns, written for this benchmark
    "می‌شود کمی بیشتر توضیح بدهی؟",
    "یک مثال هم بزن.",
    "خلاصه‌اش را در یک جمله بگو.",
    "چرا؟",
    "ممنون. یک نکتهٔ دیگر هم بگو.",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(
    model: Path, threads: int, max_batch: int, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """`persian-chat serve` on a free port for the block (its base URL), stopped after it."""
    port = free_port()
    process, _ = start_server(model, port, threads, max_batch, extra)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def start_server(
    model: Path, port: int, threads: int, max_batch: int, extra: tuple[str, ...] = ()
) -> tuple[Any, float]:
    import httpx

    command = [
        sys.executable,
        "-m",
        "persian_chat.cli",
        "serve",
        "--model",
        str(model),
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--max-batch",
        str(max_batch),
        "--max-waiting",
        "256",
        "--rate-limit",
        "0",
        *(() if "--knowledge" in extra else ("--no-knowledge",)),
        *extra,
    ]
    env = {**os.environ, "PERSIAN_CHAT_API_KEYS": ""}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)


def plot(levels: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = [lv["clients"] for lv in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(clients, [lv["aggregate_tokens_per_sec"] for lv in levels], "o-")
    left.set_xlabel("concurrent streaming clients")
    left.set_ylabel("aggregate tokens/s")
    series = {
        "ttft_p50_s": "TTFT p50",
        "ttft_p95_s": "TTFT p95",
        "itl_p50_s": "inter-token p50",
        "itl_p95_s": "inter-token p95",
    }
    for key, label in series.items():
        right.plot(clients, [(lv[key] or 0) * 1000 for lv in levels], "o-", label=label)
    right.set_xlabel("concurrent streaming clients")
    right.set_ylabel("ms")
    right.set_yscale("log")
    right.legend()
    save_plot(fig, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat-onnx-int8"))
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--requests-per-client", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--time-limit", type=float, default=180, help="seconds per level")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument("--name", default="serving_load")
    parser.add_argument("--chats", type=int, default=8, help="multi-turn chats (0: none)")
    parser.add_argument("--turns", type=int, default=4)
    return parser.parse_args(argv)


def measure_levels(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    """A server without prompt cache: start-up, idle and peak RSS, each level of clients on
    prompts of its own, then the multi-turn chats (cache off)."""
    per_level = [clients * args.requests_per_client for clients in args.levels]
    firsts = list(itertools.accumulate([1, *per_level]))  # prompt 0 is the warm-up's
    openers = prompts[firsts[-1] :]
    no_cache = ("--prompt-cache-mb", "0")  # the levels measure the engine on distinct prompts
    process, startup = start_server(args.model, args.port, args.threads, args.max_batch, no_cache)
    sampler = RssSampler(process.pid)
    time.sleep(1)
    idle_rss = sampler.current()
    sampler.start()
    url = f"http://127.0.0.1:{args.port}"
    levels, turns = [], []
    try:
        one = args.levels.index(1) if 1 in args.levels else None
        alone_prompts = prompts[firsts[one] : firsts[one + 1]] if one is not None else prompts[1:2]
        single_ids = asyncio.run(prompt_ids(url, alone_prompts))
        asyncio.run(level(url, 1, prompts[:1], 1, 8, 60))  # warm-up
        for number, clients in enumerate(args.levels):
            print(f"{clients} clients", flush=True)
            own = prompts[firsts[number] : firsts[number + 1]]
            levels.append(
                asyncio.run(
                    level(
                        url,
                        clients,
                        own,
                        args.requests_per_client,
                        args.max_tokens,
                        args.time_limit,
                    )
                )
            )
        if args.chats:
            print(f"{args.chats} chats of {args.turns} turns, prompt cache off", flush=True)
            chats = asyncio.run(
                conversations(url, openers, FOLLOW_UPS, args.turns, args.max_tokens)
            )
            turns += turn_rows("off", chats)
    finally:
        sampler.running = False
        process.terminate()
        process.wait(60)
    return {
        "startup_s": startup,
        "rss_idle_bytes": idle_rss,
        "rss_peak_bytes": sampler.peak,
        "levels": levels,
        "multi_turn": turns,
        "single_ids": single_ids,
        "openers": openers,
    }


def measure_cached_chats(
    args: argparse.Namespace, prompts: list[str], openers: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """The same multi-turn chats on a server with its default prompt cache: their turn rows
    and the server's peak RSS."""
    print("the same chats, a server with its default prompt cache", flush=True)
    url = f"http://127.0.0.1:{args.port}"
    process, _ = start_server(args.model, args.port, args.threads, args.max_batch)
    sampler = RssSampler(process.pid)
    sampler.start()
    try:
        asyncio.run(level(url, 1, prompts[:1], 1, 8, 60))  # warm-up
        chats = asyncio.run(conversations(url, openers, FOLLOW_UPS, args.turns, args.max_tokens))
    finally:
        sampler.running = False
        process.terminate()
        process.wait(60)
    return turn_rows("on", chats), sampler.peak


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the run: the levels and chats through the server, the same chats with
    the prompt cache, the engine alone on the one-client requests."""
    per_level = [clients * args.requests_per_client for clients in args.levels]
    prompts = user_prompts(args.data_dir, 1 + sum(per_level) + args.chats)
    load_before = load_average()
    measured = measure_levels(args, prompts)
    openers, single_ids = measured.pop("openers"), measured.pop("single_ids")
    measured["cache_peak_bytes"] = None
    if args.chats:
        cached, peak = measure_cached_chats(args, prompts, openers)
        measured["multi_turn"] = cached + measured["multi_turn"]
        measured["cache_peak_bytes"] = peak
    print("the engine alone, the one-client requests", flush=True)
    measured["engine_alone"] = engine_alone(
        args.model, single_ids, args.max_tokens, args.threads, args.max_batch
    )
    measured["load_before"], measured["load_after"] = load_before, load_average()
    return measured


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def level_table(levels: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(lv["clients"]),
            str(lv["requests"]),
            str(lv["errors"]),
            f"{lv['aggregate_tokens_per_sec']:.1f}",
            ms(lv["ttft_p50_s"]),
            ms(lv["ttft_p95_s"]),
            ms(lv["itl_p50_s"]),
            ms(lv["itl_p95_s"]),
        ]
        for lv in levels
    ]


def result_of(measured: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The published result: the figures, their tables and the prose that says how they
    were taken."""
    levels, turns, alone = measured["levels"], measured["multi_turn"], measured["engine_alone"]
    cache_peak = measured["cache_peak_bytes"]
    single = next((lv for lv in levels if lv["clients"] == 1), None)
    served_share = single["aggregate_tokens_per_sec"] / alone["tokens_per_sec"] if single else None
    by_clients = {lv["clients"]: lv for lv in levels}
    scaling = (
        by_clients[16]["aggregate_tokens_per_sec"] / single["aggregate_tokens_per_sec"]
        if single and 16 in by_clients
        else None
    )
    export = {}
    export_log = Path("logs/export.json")
    if export_log.is_file():
        export = json.loads(export_log.read_text(encoding="utf-8")).get("sizes", {})
    mib = 1024**2
    sizes = (
        f"model files: fp32 {export['fp32_bytes'] / mib:.0f} MiB, int8 "
        f"{export['int8_bytes'] / mib:.0f} MiB; "
        if export
        else ""
    )
    turns_title = (
        f"Multi-turn chats: time to first token by turn ({args.chats} chats, one "
        "client, the whole history resent each turn)"
    )
    turn_table = [
        [
            t["prompt_cache"],
            str(t["turn"]),
            str(t["prompt_tokens_p50"]),
            ms(t["ttft_p50_s"]),
            ms(t["ttft_p95_s"]),
        ]
        for t in turns
    ]
    return {
        "title": f"Serving under load ({args.model.name})",
        "description": (
            f"`persian-chat serve` on loopback, {args.threads} threads, max batch "
            f"{args.max_batch}, prompt cache off (`--prompt-cache-mb 0`: every request's prompt "
            f"is a different test-set question, and the test set's templated questions would "
            f"share long prefixes no real traffic shares); each client streams "
            f"{args.requests_per_client} requests "
            f"(first user turns spread over the test set, up to {args.max_tokens} new tokens, "
            f"temperature "
            f"0.3, seeded) one after another, at most {args.time_limit:.0f} s per level. "
            f"{sizes}server start-up {measured['startup_s']:.1f} s, RSS idle "
            f"{measured['rss_idle_bytes'] / mib:.0f} MiB, peak "
            f"under load {measured['rss_peak_bytes'] / mib:.0f} MiB. Inter-token latency is "
            f"measured between streamed events (whole characters). The engine alone (in "
            f"process, the one-client requests' prompt ids, sampling and seeds): "
            f"{alone['tokens_per_sec']:.1f} tok/s"
            + (f"; served one client = {served_share:.0%} of it" if served_share else "")
            + (f"; 16 clients = {scaling:.1f}x one client" if scaling else "")
            + "."
            + (
                f" The multi-turn chats with the default prompt cache: peak RSS "
                f"{cache_peak / mib:.0f} MiB; from turn 2 on, answers may differ between the two "
                f"servers (reused KV differs from recomputed KV in the last float bits, which can "
                f"change a sampled token), so their prompt sizes differ."
                if cache_peak
                else ""
            )
        ),
        "engine_alone": alone,
        "served_share_of_engine": served_share,
        "aggregate_16_vs_1": scaling,
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "load_before": measured["load_before"],
        "load_after": measured["load_after"],
        "startup_s": measured["startup_s"],
        "rss_idle_bytes": measured["rss_idle_bytes"],
        "rss_peak_bytes": measured["rss_peak_bytes"],
        "model_sizes": export,
        "levels": levels,
        "multi_turn": turns,
        "table": {"header": HEADER, "rows": level_table(levels)},
        "tables": [{"title": turns_title, "header": TURNS_HEADER, "rows": turn_table}]
        if turns
        else [],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = result_of(measure(args), args)
    plot(result["levels"], RESULTS / f"{args.name}.png")
    publish(args.name, result)


if __name__ == "__main__":
    main()
