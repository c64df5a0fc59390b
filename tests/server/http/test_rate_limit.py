from __future__ import annotations

from persian_chat.server.http.rate_limit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bursts_up_to_the_limit_then_refills_continuously() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == 20.0  # one request per 20 s at 3 per minute
    assert limiter.acquire("b") == 0.0  # clients are separate
    clock.now = 20.0
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") > 0


def test_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))


def test_memory_stays_bounded() -> None:
    limiter = RateLimiter(5, Clock(), max_clients=10)
    for i in range(100):
        limiter.acquire(str(i))
    assert len(limiter._buckets) <= 10


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.2) == {"Retry-After": "1"}
    assert retry_after_header(20.0) == {"Retry-After": "20"}
