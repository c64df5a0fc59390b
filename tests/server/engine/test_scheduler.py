"""The scheduler on its own: stand-in requests, no model, no onnxruntime."""

from __future__ import annotations

import threading
import time

import pytest

from persian_chat.server.engine.scheduler import (
    SHUTDOWN_MESSAGE,
    EngineClosedError,
    EngineFullError,
    Scheduler,
)


def test_admission_fills_the_batch_in_arrival_order_and_queues_the_rest() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=2, max_waiting=2)
    for name in "abcd":
        scheduler.submit(name, running=0)
    with pytest.raises(EngineFullError):
        scheduler.submit("e", running=0)
    plan = scheduler.plan(running=0)
    assert plan is not None and plan.admit == ["a", "b"] and not plan.expired
    assert scheduler.admitting == 2 and scheduler.waiting == 2
    for name in plan.admit:
        scheduler.started(name)
    assert scheduler.admitting == 0 and scheduler.admitted == []
    plan = scheduler.plan(running=1)  # one row still running: one place left
    assert plan is not None and plan.admit == ["c"] and scheduler.waiting == 1


def test_a_full_batch_admits_nobody() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=1, max_waiting=4)
    scheduler.submit("a", running=1)
    plan = scheduler.plan(running=1)
    assert plan is not None and plan.admit == [] and scheduler.waiting == 1


def test_closing_refuses_new_requests_and_ends_when_nothing_is_left() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=2, max_waiting=2)
    scheduler.submit("a", running=0)
    scheduler.close(60)
    with pytest.raises(EngineClosedError, match=SHUTDOWN_MESSAGE):
        scheduler.submit("b", running=0)
    plan = scheduler.plan(running=0)  # what was queued before still runs
    assert plan is not None and plan.admit == ["a"] and not plan.expired
    scheduler.started("a")
    assert scheduler.plan(running=1) is not None  # a row still running
    assert scheduler.plan(running=0) is None  # closing and nothing left: the loop ends


def test_past_the_deadline_everything_waiting_ends() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=1, max_waiting=4)
    for name in "abc":
        scheduler.submit(name, running=0)
    scheduler.close(0)
    scheduler.close(60)  # a later call never pushes the deadline back
    time.sleep(0.01)
    plan = scheduler.plan(running=1)
    assert plan is not None and plan.expired and plan.admit == ["a", "b", "c"]
    assert scheduler.waiting == 0 and scheduler.admitting == 0


def test_a_failed_loop_returns_what_it_had_not_started() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=1, max_waiting=4)
    for name in "abc":
        scheduler.submit(name, running=0)
    scheduler.plan(running=0)  # "a" taken for prefill
    assert scheduler.fail("RuntimeError: bug") == ["a", "b", "c"]
    with pytest.raises(EngineClosedError, match="bug"):
        scheduler.submit("d", running=0)


def test_the_loop_sleeps_until_a_request_comes() -> None:
    scheduler: Scheduler[str] = Scheduler(max_batch=2, max_waiting=2)
    assert scheduler.plan(running=0, timeout=0.01) is not None  # nothing came: empty plan
    plans: list[object] = []
    waiter = threading.Thread(target=lambda: plans.append(scheduler.plan(running=0)))
    waiter.start()
    time.sleep(0.05)
    assert waiter.is_alive()  # blocked, not spinning
    scheduler.submit("a", running=0)
    waiter.join(2)
    assert not waiter.is_alive() and getattr(plans[0], "admit", None) == ["a"]
