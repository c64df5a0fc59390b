"""Prometheus metrics, in a registry of their own so several apps (tests) can coexist.

What operators of TGI / llama.cpp servers watch: requests by route and status, time to
first token, inter-token latency, tokens in and out, queue depth and active sequences.
The request, token and latency series of a chat carry a `model` label (the served model's
id) because POST /admin/model can switch models without a restart: a dashboard then shows
each version over time, and requests an old model was still finishing stay on its line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class EngineLoad(Protocol):
    """What the gauges read from an engine (server/engine/core.py's Engine)."""

    @property
    def waiting(self) -> int: ...

    @property
    def active(self) -> int: ...


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "persian_chat_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.model_requests = Counter(
            "persian_chat_model_requests",
            "Chat requests that reached a model, by model and outcome (ok: answered or left "
            "by the client; error: the server failed it)",
            ["model", "outcome"],
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "persian_chat_time_to_first_token_seconds",
            "Request start to first token",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inter_token_latency = Histogram(
            "persian_chat_inter_token_latency_seconds",
            "Time between consecutive tokens",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.request_duration = Histogram(
            "persian_chat_request_duration_seconds",
            "Whole generation time",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "persian_chat_prompt_tokens", "Prompt tokens processed", ["model"], registry=r
        )
        self.prompt_cached_tokens = Counter(
            "persian_chat_prompt_cached_tokens",
            "Prompt tokens whose KV was reused (the "
            "default system prompt's, or an earlier turn's from the prompt cache), not computed",
            ["model"],
            registry=r,
        )
        self.knowledge_retrievals = Counter(
            "persian_chat_knowledge_retrievals",
            "Chat requests that searched the knowledge base, by whether a passage was relevant",
            ["outcome"],
            registry=r,
        )
        self.generated_tokens = Counter(
            "persian_chat_generated_tokens", "Tokens generated", ["model"], registry=r
        )
        self.queue_depth = Gauge(
            "persian_chat_queue_depth", "Requests waiting for a batch slot", registry=r
        )
        self.active_sequences = Gauge(
            "persian_chat_active_sequences", "Sequences being decoded", registry=r
        )

    def watch_engine(self, engines: Callable[[], Iterable[EngineLoad]]) -> None:
        """Read the gauges from whatever engines `engines()` returns at scrape time (the
        current one and any old one still finishing answers), never from one captured once."""
        self.queue_depth.set_function(lambda: float(sum(e.waiting for e in engines())))
        self.active_sequences.set_function(lambda: float(sum(e.active for e in engines())))

    def render(self) -> bytes:
        return generate_latest(self.registry)
