"""One studio job, run as a process of its own: prepare → train → evaluate → export.

`python -m persian_chat.studio.runner JOB_DIR [--resume]`. The studio starts it in a new
session, so it keeps running when the browser (or the studio) goes away; its state is the
JSON file JOB_DIR/state.json, written atomically after every stage. With --resume, stages
already done are skipped and training continues from its newest checkpoint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from persian_chat.atomic import atomic_write_text
from persian_chat.studio.status import JobStatus
from persian_chat.studio.templates import Recipe
from persian_chat.training.train import last_complete_checkpoint

STAGES = ("prepare", "train", "evaluate", "export")


def read_state(job_dir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((job_dir / "state.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {"status": JobStatus.QUEUED, "stage": "", "done": [], "error": ""}
    return state


def write_state(job_dir: Path, **values: Any) -> dict[str, Any]:
    state = {**read_state(job_dir), **values, "updated": time.time()}
    atomic_write_text(job_dir / "state.json", json.dumps(state, ensure_ascii=False) + "\n")
    return state


def has_checkpoint(job_dir: Path) -> bool:
    return last_complete_checkpoint(job_dir / "checkpoint.checkpoints") is not None


def stage_command(stage: str, job_dir: Path, recipe: Recipe, name: str) -> list[str]:
    """The `persian-chat` command line of one stage, from the job's recipe."""
    cli = [sys.executable, "-m", "persian_chat.cli"]
    data, checkpoint, logs = job_dir / "data", job_dir / "checkpoint", job_dir / "logs"
    if stage == "prepare":
        return [*cli, "prepare", "--config", str(job_dir / "prepare.toml")]
    if stage == "train":
        command = [
            *cli,
            "train",
            "--base-model",
            recipe.base_model,
            "--data-dir",
            str(data),
            "--output-dir",
            str(checkpoint),
            "--logs-dir",
            str(logs),
            "--learning-rate",
            str(recipe.learning_rate),
            "--epochs",
            str(recipe.epochs),
            "--max-steps",
            str(recipe.max_steps),
            "--max-length",
            str(recipe.max_length),
            "--save-steps",
            str(recipe.save_steps),
            "--logging-steps",
            str(recipe.logging_steps),
            "--no-lora",
        ]
        if recipe.batch_size:
            command += ["--batch-size", str(recipe.batch_size)]
        if recipe.trim_vocab:
            command.append("--trim-vocab")
        if recipe.packing:
            command.append("--packing")
        if has_checkpoint(job_dir):
            command.append("--resume")
        return command
    if stage == "evaluate":
        return [
            *cli,
            "evaluate",
            "--model",
            str(checkpoint),
            "--data-dir",
            str(data),
            "--logs-dir",
            str(logs),
            "--no-base",
            "--no-chat",
            "--max-examples",
            str(recipe.eval_examples),
        ]
    if stage == "export":
        return [
            *cli,
            "export",
            "--model",
            str(checkpoint),
            "--output",
            str(job_dir / "served" / name),
            "--data-dir",
            str(data),
            "--logs-dir",
            str(logs),
            "--parity-examples",
            str(recipe.eval_examples),
        ]
    raise ValueError(f"unknown stage {stage}")


def last_error(log: Path, start: int) -> str:
    """The stage's own message: its last line that names an error, else its last line."""
    with log.open("rb") as handle:
        handle.seek(start)
        lines = [ln.strip() for ln in handle.read().decode("utf-8", "replace").splitlines()]
    lines = [ln for ln in lines if ln]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or [""])[-1][-300:]


def run_job(job_dir: Path, resume: bool) -> int:
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    recipe = Recipe.model_validate(job["recipe"])
    done: list[str] = list(read_state(job_dir).get("done", [])) if resume else []
    write_state(job_dir, status=JobStatus.RUNNING, done=done, error="")
    with (job_dir / "job.log").open("a", encoding="utf-8") as log:
        for stage in STAGES:
            if stage in done:
                continue
            write_state(job_dir, stage=stage)
            command = stage_command(stage, job_dir, recipe, job["name"])
            log.write(f"\n=== {stage}: {' '.join(command[2:])}\n")
            log.flush()
            start = log.tell()
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=job["repo"])
            if code != 0:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                error = f"{stage}: {how}" + (f": {last_error(job_dir / 'job.log', start)}")
                write_state(
                    job_dir, status=JobStatus.FAILED, error=error.rstrip(": "), returncode=code
                )
                return 1
            done.append(stage)
            write_state(job_dir, done=done)
    write_state(job_dir, status=JobStatus.FINISHED, stage="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    return run_job(args.job_dir, args.resume)


if __name__ == "__main__":
    sys.exit(main())
