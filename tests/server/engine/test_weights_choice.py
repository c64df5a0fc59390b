"""The weight format is chosen by measured decode time only: a format made artificially slow
is never picked, whatever its name or its place in the directory."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, cast

import pytest

from persian_chat.server.engine.weights_choice import choose_weights
from persian_chat.server.kv.onnx_model import Decoder, load_decoder
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.served_model import INT4_FILE, ServedModelError

DELAY = 0.02  # seconds added to every step of the slowed format (a tiny step takes ~1 ms)


def slowed(decoder: Decoder) -> Decoder:
    """The same decoder (same class, so the same batch kind) with every step DELAY slower."""
    kind = type(decoder)

    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(DELAY)
        return kind.step(self, *args, **kwargs)

    slow: Any = object.__new__(type(f"Slow{kind.__name__}", (kind,), {"step": step}))
    slow.__dict__.update(decoder.__dict__)
    return cast(Decoder, slow)


def test_the_slowed_format_is_never_picked(tiny_served_dir: Path) -> None:
    model = tiny_served_dir / "model.onnx"
    fast, slow = load_decoder(model), slowed(load_decoder(model))
    for decoders in ({"int8": fast, "int4": slow}, {"int8": slow, "int4": fast}):
        chosen, medians = choose_weights(decoders, [], rounds=2, steps=3)
        assert decoders[chosen] is fast
        other = next(name for name in decoders if name != chosen)
        assert medians[other] > medians[chosen] + DELAY / 2
    assert choose_weights({"int8": fast}, []) == ("int8", {})  # nothing to time


@pytest.mark.parametrize(("int4_seconds", "chosen"), [(0.97, "int8"), (0.9, "int4"), (1.2, "int8")])
def test_a_less_accurate_format_must_be_clearly_faster(
    int4_seconds: float, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """int8 comes first (the more accurate): int4 is served only when at least MARGIN faster,
    so a tie within the timing noise never costs perplexity."""
    from persian_chat.server.engine import weights_choice

    seconds = {"int8": 1.0, "int4": int4_seconds}
    monkeypatch.setattr(weights_choice, "step_seconds", lambda d, p, s: seconds[d])
    decoders: dict[str, Any] = {"int8": "int8", "int4": "int4"}
    assert weights_choice.MARGIN == 0.05
    assert weights_choice.choose_weights(decoders, [])[0] == chosen


def two_formats(source: Path, target: Path) -> Path:
    """A copy of a served model that also carries an int4 graph (here the same bytes: what
    differs between formats is only how fast this machine runs them)."""
    shutil.copytree(source, target)
    shutil.copy2(target / "model.onnx", target / INT4_FILE)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["weights"] = {"int8": {"file": "model.onnx"}, "int4": {"file": INT4_FILE}}
    digest = hashlib.sha256((target / INT4_FILE).read_bytes()).hexdigest()
    manifest["files"][INT4_FILE] = digest
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


@pytest.mark.parametrize("slow_file", ["model.onnx", INT4_FILE])
def test_serve_runs_the_faster_format_and_logs_both_timings(
    tiny_served_dir: Path,
    tmp_path: Path,
    slow_file: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from persian_chat.server.http import runtime

    served = two_formats(tiny_served_dir, tmp_path / "served")

    def load(path: Path, threads: int = 1) -> Decoder:
        decoder = load_decoder(path, threads)
        return slowed(decoder) if path.name == slow_file else decoder

    monkeypatch.setattr(runtime, "load_decoder", load)
    settings = ServerSettings(model_dir=served, threads=1, max_batch=1)
    with caplog.at_level(logging.INFO, logger="persian_chat.server"):
        loaded = runtime.load_runtime(settings)
    loaded.engine.shutdown(0)
    assert loaded.engine.join(10)
    expected = "int4" if slow_file == "model.onnx" else "int8"
    assert loaded.weights == expected
    chosen = [r.getMessage() for r in caplog.records if r.getMessage().startswith("weights ")]
    assert len(chosen) == 1 and chosen[0].startswith(f"weights {expected}: the fastest")
    assert "int8 " in chosen[0] and "int4 " in chosen[0] and chosen[0].count(" ms") == 2


def test_a_named_format_is_served_without_timing_and_an_unknown_one_is_refused(
    tiny_served_dir: Path, tmp_path: Path
) -> None:
    from persian_chat.server.http.runtime import load_runtime

    served = two_formats(tiny_served_dir, tmp_path / "served")
    loaded = load_runtime(ServerSettings(model_dir=served, threads=1, max_batch=1, weights="int4"))
    loaded.engine.shutdown(0)
    assert loaded.engine.join(10) and loaded.weights == "int4"
    with pytest.raises(ServedModelError, match=r"--weights int2: .* carries int4, int8"):
        load_runtime(ServerSettings(model_dir=served, threads=1, max_batch=1, weights="int2"))
    single = load_runtime(ServerSettings(model_dir=tiny_served_dir, threads=1, max_batch=1))
    single.engine.shutdown(0)
    assert single.engine.join(10) and single.weights == "int8"
