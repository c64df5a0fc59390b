from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from persian_chat.errors import UserError
from persian_chat.loss_log import read_log
from persian_chat.training.train import TrainConfig, train

from ..conftest import TinyGemma
from ..server.live_server import clean_environment


def config(model: Path, data: Path, out: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "base_model": str(model),
        "data_dir": data,
        "output_dir": out / "model",
        "logs_dir": out / "logs",
        "max_steps": 6,
        "batch_size": 4,
        "max_length": 128,
        "learning_rate": 5e-3,
        "logging_steps": 1,
        "save_steps": 3,
        "threads": 1,
        "warmup_ratio": 0.0,
    }
    values.update(overrides)
    return TrainConfig.model_validate(values)


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def test_full_fine_tune_writes_checkpoint_manifest_log_and_curve(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    cfg = config(tiny_gpt2_dir, tiny_dataset, tmp_path, max_steps=12)
    manifest = train(cfg)
    model_dir = cfg.output_dir
    for name in ("model.safetensors", "tokenizer.json", "chat_template.jinja", "config.json"):
        assert (model_dir / name).is_file(), name
    on_disk = json.loads((model_dir / "training_manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert manifest["hyperparameters"]["lora"] is False  # a small model: full fine-tune
    assert manifest["hyperparameters"]["seed"] == 13
    assert manifest["dataset_sha256"]["train.jsonl"]
    assert manifest["steps"] == 12 and manifest["tokens_per_sec"] > 0
    records = [json.loads(line) for line in (cfg.logs_dir / "train.log").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 13))
    assert set(records[0]) >= {
        "step",
        "epoch",
        "loss",
        "learning_rate",
        "tokens_per_sec",
        "elapsed_s",
        "max_steps",
        "steps_this_run",
    }
    assert records[-1]["max_steps"] == 12 and records[-1]["steps_this_run"] == 12
    assert records[-1]["loss"] < records[0]["loss"]  # it learns
    assert (cfg.logs_dir / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(model_dir.parent.glob(".model.*"))  # no temp dirs left behind


def test_same_seed_same_weights(tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    first = train(config(tiny_gpt2_dir, tiny_dataset, tmp_path / "a"))
    second = train(config(tiny_gpt2_dir, tiny_dataset, tmp_path / "b"))
    assert first["final_train_loss"] == second["final_train_loss"]
    a, b = weights(tmp_path / "a/model"), weights(tmp_path / "b/model")
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train(config(tiny_gpt2_dir, tiny_dataset, tmp_path / "c", seed=14))
    assert other["final_train_loss"] != first["final_train_loss"]


def test_gemma_with_lora_and_trimmed_vocabulary(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = config(tiny_gemma.model_dir, tiny_dataset, tmp_path, lora=True, lora_r=2, trim_vocab=True)
    manifest = train(cfg)
    assert manifest["hyperparameters"]["lora"] is True
    assert manifest["parameters"]["trainable"] < manifest["parameters"]["total"] / 4
    assert manifest["vocabulary"]["after"] < manifest["vocabulary"]["before"]
    # LoRA is merged: a plain checkpoint that loads without peft
    model = AutoModelForCausalLM.from_pretrained(cfg.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(cfg.output_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    assert model.config.vocab_size == manifest["vocabulary"]["after"]


def test_resume_needs_a_checkpoint(tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no checkpoint"):
        train(config(tiny_gpt2_dir, tiny_dataset, tmp_path, resume=True))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "persian_chat.cli", *args]


def _train_args(model: Path, data: Path, out: Path, steps: int) -> list[str]:
    return [
        "train",
        "--base-model",
        str(model),
        "--data-dir",
        str(data),
        "--output-dir",
        str(out / "model"),
        "--logs-dir",
        str(out / "logs"),
        "--max-steps",
        str(steps),
        "--batch-size",
        "2",
        "--max-length",
        "128",
        "--learning-rate",
        "5e-3",
        "--warmup-ratio",
        "0",
        "--save-steps",
        "2",
        "--threads",
        "1",
    ]


def test_resume_after_kill_ends_like_an_uninterrupted_run(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    steps = 40
    reference = train(
        config(
            tiny_gpt2_dir,
            tiny_dataset,
            tmp_path / "ref",
            max_steps=steps,
            batch_size=2,
            save_steps=2,
        )
    )
    out = tmp_path / "killed"
    args = _train_args(tiny_gpt2_dir, tiny_dataset, out, steps)
    process = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoints = out / "model.checkpoints"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if any((c / "trainer_state.json").is_file() for c in checkpoints.glob("checkpoint-*")):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (
        process.stderr.read().decode() if process.stderr else ""
    )
    assert not (out / "model").exists()  # killed before the end: nothing published

    resumed = subprocess.run(_cli(*args, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "Continuing training from checkpoint" in resumed.stderr or "resum" in resumed.stderr.lower()
    )
    manifest = json.loads((out / "model/training_manifest.json").read_text(encoding="utf-8"))
    assert manifest["steps"] == reference["steps"] == steps
    last = json.loads((out / "logs/train.log").read_text().splitlines()[-1])
    assert last["step"] == steps and 0 < last["steps_this_run"] < steps  # the resumed part
    a, b = weights(tmp_path / "ref/model"), weights(out / "model")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)


def test_two_processes_split_the_data_and_end_like_one_on_the_combined_batches(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path
) -> None:
    """torchrun with two gloo processes of batch 2 each: every step the processes take the
    two halves of what one process of batch 4 takes (packed batches, the same seeded order),
    and the averaged gradients leave the same weights. Processes that saw the same data, or
    did not synchronise, would end elsewhere."""
    env = {**clean_environment(), "OMP_NUM_THREADS": "1"}

    def run(out: Path, processes: int, batch: int) -> dict[str, Any]:
        args = _train_args(tiny_gemma.model_dir, tiny_dataset, out, 4)
        args[args.index("--batch-size") + 1] = str(batch)
        launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
        command = [sys.executable, *launcher, str(processes), "-m", "persian_chat.cli"]
        result = subprocess.run(
            [*command, *args, "--packing", "--lr-scheduler", "constant"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        manifest: dict[str, Any] = json.loads((out / "model/training_manifest.json").read_text())
        return manifest

    two = run(tmp_path / "two", 2, 2)
    one = run(tmp_path / "one", 1, 4)
    assert two["hyperparameters"]["world_size"] == 2 and two["steps"] == one["steps"] == 4
    assert two["tokens_seen"] == one["tokens_seen"]  # both halves, no example twice
    a, b = weights(tmp_path / "two/model"), weights(tmp_path / "one/model")
    for name in a:
        # the order of float sums differs (gloo's all-reduce): typically 2e-5 apart; Adam's
        # step is about lr in size whatever the gradient's, so a rare element whose gradient
        # is near zero may move differently (one of 8,192 by 1.04e-4 seen): nearly every
        # element within 1e-4, all within 1e-3 (the half-data run below is further)
        diff = (a[name] - b[name]).abs()
        assert float(diff.max()) < 1e-3, name
        assert float((diff > 1e-4).float().mean()) < 1e-3, name
    # and the equality says something: a process alone on its half ends far from both
    half = run(tmp_path / "half", 1, 2)
    c = weights(tmp_path / "half/model")
    assert max(float((a[n] - c[n]).abs().max()) for n in a) > 1e-3
    assert half["tokens_seen"] < one["tokens_seen"]


def test_frozen_embeddings_and_lower_layers_keep_their_weights(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path
) -> None:
    cfg = config(
        tiny_gemma.model_dir,
        tiny_dataset,
        tmp_path,
        lora=False,
        freeze_embeddings=True,
        freeze_layers=1,
        deterministic=False,
    )
    manifest = train(cfg)
    before, after = weights(tiny_gemma.model_dir), weights(cfg.output_dir)
    frozen = [n for n in after if "embed_tokens" in n or ".layers.0." in n]
    trained = [n for n in after if ".layers.1." in n and n.endswith("proj.weight")]
    assert frozen and trained
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert any(not torch.equal(before[n], after[n]) for n in trained)
    assert manifest["parameters"]["trainable"] < manifest["parameters"]["total"]
    assert manifest["hyperparameters"]["freeze_layers"] == 1


@pytest.mark.slow
def test_a_compiled_run_saves_a_plain_checkpoint(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    from persian_chat.training.train import compile_works

    cfg = config(tiny_gemma.model_dir, tiny_dataset, tmp_path, lora=False, compile=True)
    manifest = train(cfg)
    assert manifest["hyperparameters"]["compiled"] is compile_works()
    names = set(weights(cfg.output_dir))
    assert names and not any("_orig_mod" in name for name in names)
    AutoModelForCausalLM.from_pretrained(cfg.output_dir)  # loads as any checkpoint


def test_without_a_working_torch_compile_the_run_trains_uncompiled(
    tiny_gemma: TinyGemma,
    tiny_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", broken)
    cfg = config(tiny_gemma.model_dir, tiny_dataset, tmp_path, lora=False, compile=True)
    manifest = train(cfg)
    assert manifest["hyperparameters"]["compiled"] is False and manifest["steps"] == 6
    assert "torch.compile does not work here (no C++ compiler)" in caplog.text


def test_freezing_more_layers_than_the_model_has_is_a_clear_error(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path
) -> None:
    cfg = config(tiny_gemma.model_dir, tiny_dataset, tmp_path, lora=False, freeze_layers=99)
    with pytest.raises(UserError, match="--freeze-layers 99: the model has"):
        train(cfg)
    for frozen in ({"freeze_layers": 1}, {"freeze_embeddings": True}):
        cfg = config(tiny_gemma.model_dir, tiny_dataset, tmp_path, lora=True, **frozen)
        with pytest.raises(UserError, match="for a full fine-tune"):
            train(cfg)


def test_cli_help_lists_every_option(repo: Path) -> None:
    expected = {
        "train": [
            "--base-model",
            "--epochs",
            "--max-steps",
            "--batch-size",
            "--grad-accum",
            "--learning-rate",
            "--lr-scheduler",
            "--warmup-ratio",
            "--weight-decay",
            "--max-length",
            "--seed",
            "--lora",
            "--no-lora",
            "--lora-r",
            "--trim-vocab",
            "--save-steps",
            "--resume",
            "--threads",
            "--freeze-embeddings",
            "--freeze-layers",
            "--no-deterministic",
            "--compile",
            "--repeat",
        ],
        "evaluate": ["--model", "--data-dir", "--logs-dir", "--max-length", "--worst", "--no-base"],
        "trim-vocab": ["--base-model", "--data-dir", "--output-dir"],
    }
    for command, options in expected.items():
        result = subprocess.run(_cli(command, "--help"), capture_output=True, text=True, cwd=repo)
        assert result.returncode == 0, result.stderr
        for option in options:
            assert option in result.stdout, (command, option)


def test_packed_batches_give_the_loss_of_padded_ones(tiny_gemma: TinyGemma) -> None:
    """Packing must not let examples attend to each other: same tokens, same loss."""
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, DataCollatorWithFlattening

    from persian_chat.training.chat_data import IGNORE_INDEX

    model = tiny_gemma.reference.eval()
    generator = torch.Generator().manual_seed(0)
    features = []
    for length in (7, 12, 5):
        ids = torch.randint(10, 600, (length,), generator=generator).tolist()
        labels = [IGNORE_INDEX] * 2 + ids[2:]  # loss on the 'answer' part only
        features.append({"input_ids": ids, "labels": labels, "attention_mask": [1] * length})
    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma.model_dir)
    padded = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    packed = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)
    with torch.no_grad():
        loss_padded = model(**padded([dict(f) for f in features])).loss
        flat = packed([{k: f[k] for k in ("input_ids", "labels")} for f in features])
        loss_packed = model(**flat, use_cache=False).loss  # as training runs it
        # and the mask matters: the same row without position restarts gives another loss
        leaky = model(**flat, use_cache=True).loss  # a cache disables the packed mask
    assert flat["input_ids"].shape[0] == 1
    assert torch.allclose(loss_packed, loss_padded, atol=1e-5), (loss_packed, loss_padded)
    assert not torch.allclose(leaky, loss_padded, atol=1e-3)


def test_packing_trains(tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path: Path) -> None:
    manifest = train(config(tiny_gemma.model_dir, tiny_dataset, tmp_path, packing=True))
    assert manifest["hyperparameters"]["packing"] is True and manifest["steps"] == 6
    assert manifest["tokens_seen"] > 0


def test_time_budget_stops_the_run_and_the_manifest_has_the_loss_trend(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    budget = config(
        tiny_gpt2_dir,
        tiny_dataset,
        tmp_path,
        max_steps=10_000,
        time_budget_minutes=0.1,
        logging_steps=1,
    )
    manifest = train(budget)
    assert manifest["steps"] < 10_000
    # the schedule was sized to the steps the budget reaches: the rate ends near zero
    assert manifest["schedule_steps"] is not None and manifest["schedule_steps"] < 10_000
    rates = [r["learning_rate"] for r in read_log(tmp_path / "logs" / "train.log")]
    assert rates[-1] < 0.25 * max(rates)
    trend = manifest["smoothed_loss"]
    assert trend is not None and trend["ratio"] == pytest.approx(
        trend["end"] / trend["start"], abs=1e-3
    )


def test_a_schedule_resized_to_the_budget_ends_at_its_new_length() -> None:
    import torch
    from transformers import get_cosine_schedule_with_warmup

    from persian_chat.training.train_log import TimeBudgetCallback

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = get_cosine_schedule_with_warmup(optimizer, 50, 1000)
    budget = TimeBudgetCallback(1.0)
    budget.resize(scheduler, 200)  # the warm-up keeps its 5%: 10 steps
    assert budget.schedule_steps == 200
    for _ in range(100):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 90 / 190)), abs=1e-6
    )
    for _ in range(100):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)


def test_resume_skips_a_checkpoint_killed_while_saving(tmp_path: Path) -> None:
    from persian_chat.training.train import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "missing") is None
    for step, complete in ((5, True), (10, True), (15, False)):
        directory = tmp_path / f"checkpoint-{step}"
        directory.mkdir()
        (directory / "model.safetensors").write_bytes(b"")
        if complete:
            (directory / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_repeat_factors_shape_the_mixture_the_manifest_reports(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    from persian_chat.checksums import format_sha256sums, sha256_file

    data = tmp_path / "data"
    data.mkdir()
    lines = (tiny_dataset / "train.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for index, record in enumerate(records):  # three sources, a third of the rows each
        record["source"] = ("hafez", "task:sentiment", "reading")[index % 3]
        record["domain"] = ("poems", "sentiment", "reading_passages")[index % 3]
    rows = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (data / "train.jsonl").write_text(rows, encoding="utf-8")
    (data / "test.jsonl").write_bytes((tiny_dataset / "test.jsonl").read_bytes())
    digests = {n: sha256_file(data / n) for n in ("train.jsonl", "test.jsonl")}
    (data / "SHA256SUMS").write_text(format_sha256sums(digests), encoding="utf-8")

    plain = train(config(tiny_gpt2_dir, data, tmp_path / "a", max_steps=1))
    factors = {"hafez": 0.0, "task:sentiment": 2.0}
    mixed = train(config(tiny_gpt2_dir, data, tmp_path / "b", max_steps=1, repeat=factors))
    count = {s: sum(r["source"] == s for r in records) for s in ("hafez", "task:sentiment")}
    assert plain["mixture"]["hafez"]["rows"] == count["hafez"] and "hafez" not in mixed["mixture"]
    assert mixed["mixture"]["task:sentiment"] == {
        key: 2 * value for key, value in plain["mixture"]["task:sentiment"].items()
    }
    passages = "reading:reading_passages"
    assert mixed["mixture"][passages] == plain["mixture"][passages]
    used = mixed["examples"]["used"]
    assert used == sum(t["rows"] for t in mixed["mixture"].values())
    expected = len(records) - count["hafez"] + count["task:sentiment"]
    assert used + mixed["examples"]["dropped_too_long"] == expected
    with pytest.raises(UserError, match="nonesuch"):
        train(config(tiny_gpt2_dir, data, tmp_path / "c", repeat={"nonesuch": 2.0}))
