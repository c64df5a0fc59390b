"""The raw training log (one JSON line per logging step) and the loss-curve plot."""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from persian_chat.loss_log import read_log

log = logging.getLogger("persian_chat.train")


class TrainLogCallback(TrainerCallback):
    """Append step (of max_steps), epoch, loss, learning rate, tokens/sec and elapsed time
    to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.monotonic()
        self.last_time = self.start
        self.last_tokens = 0
        self.first_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start = self.last_time = time.monotonic()
        self.last_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self.first_step = int(state.global_step)  # > 0 when resumed from a checkpoint

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        now = time.monotonic()
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        rate = (tokens - self.last_tokens) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_tokens = now, tokens
        record = {
            "step": state.global_step,
            "max_steps": state.max_steps,  # the run's length: the studio's ETA
            "epoch": round(float(state.epoch or 0.0), 4),
            "loss": round(float(logs["loss"]), 5),
            "learning_rate": float(logs.get("learning_rate", 0.0)),
            "tokens_per_sec": round(rate, 1),
            "tokens_seen": tokens,
            "elapsed_s": round(now - self.start, 2),
            "steps_this_run": state.global_step - self.first_step,  # the steps elapsed_s took
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


class TimeBudgetCallback(TrainerCallback):
    """Stop after `minutes` of training (checked at each step end), and make the learning-rate
    schedule end when the budget does: a slower machine reaches fewer steps, and a cosine
    sized for the planned steps would stop with the rate still high. From the step rate
    measured so far (the first SKIP steps, which load and warm up, left out), the schedule's
    length is re-sized every RESIZE_EVERY steps to the steps the budget reaches, never beyond
    the planned ones; training also stops at the end of the schedule."""

    SKIP = 5
    RESIZE_EVERY = 25

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.start = time.monotonic()
        self.first_step = 0
        self.mark: tuple[int, float] | None = None  # (step, time) after the skipped steps
        self.planned: int | None = None
        self.schedule_steps: int | None = None  # the length the schedule was last sized to
        self.sized_from: tuple[int, int] | None = None  # the planned (steps, warm-up steps)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start = time.monotonic()
        self.first_step = int(state.global_step)  # a resumed run counts from where it was
        self.planned = int(state.max_steps)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now, step = time.monotonic(), int(state.global_step)
        if now - self.start >= self.seconds:
            control.should_training_stop = True
        done = step - self.first_step
        if done == self.SKIP:
            self.mark = (step, now)
        elif self.mark is not None and done > self.SKIP and done % self.RESIZE_EVERY == 0:
            rate = (now - self.mark[1]) / (step - self.mark[0])  # seconds per step
            reachable = step + int((self.seconds - (now - self.start)) / rate)
            self.resize(kwargs.get("lr_scheduler"), min(reachable, self.planned or reachable))
        if self.schedule_steps is not None and step >= self.schedule_steps:
            control.should_training_stop = True

    def resize(self, scheduler: Any, steps: int) -> None:
        """Make a transformers schedule (a LambdaLR over a partial with
        `num_training_steps`) end at `steps`."""
        lambdas = getattr(scheduler, "lr_lambdas", None)
        if not lambdas or steps == self.schedule_steps:
            return
        resized = []
        for fn in lambdas:
            keywords = dict(getattr(fn, "keywords", {}))
            if "num_training_steps" not in keywords:
                return  # a constant schedule: nothing to size
            # the warm-up keeps its share of the schedule (sized from the planned one)
            self.sized_from = self.sized_from or (
                keywords["num_training_steps"],
                keywords.get("num_warmup_steps", 0),
            )
            planned, warmup = self.sized_from
            keywords["num_training_steps"] = steps
            if "num_warmup_steps" in keywords:
                keywords["num_warmup_steps"] = round(warmup * steps / max(planned, 1))
            resized.append(functools.partial(fn.func, **keywords))
        scheduler.lr_lambdas = resized
        if self.schedule_steps is None or abs(steps - self.schedule_steps) >= self.RESIZE_EVERY:
            log.info(
                "time budget: the learning-rate schedule now ends at step %d (planned %s)",
                steps,
                self.planned,
            )
        self.schedule_steps = steps


def plot_loss_curve(log_path: Path, png_path: Path, title: str) -> None:
    """Training loss per logged step, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_path)
    steps = [r["step"] for r in records]
    losses = [r["loss"] for r in records]
    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    axes.plot(steps, losses, marker=".", lw=0.8, alpha=0.6, label="logged loss")
    window = 5  # batches differ a lot (poems vs short chats): show the trend as well
    if len(losses) >= window:
        trend = [
            sum(losses[i - window + 1 : i + 1]) / window for i in range(window - 1, len(losses))
        ]
        axes.plot(steps[window - 1 :], trend, lw=2, label=f"mean of last {window}")
    axes.legend()
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss (assistant tokens)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    tmp = png_path.with_name(f".{png_path.name}.tmp.png")
    figure.savefig(tmp)
    plt.close(figure)
    tmp.replace(png_path)
