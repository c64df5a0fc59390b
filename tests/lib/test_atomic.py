from __future__ import annotations

import os
from pathlib import Path

import pytest

from persian_chat import atomic
from persian_chat.atomic import atomic_write_many, atomic_write_text


def test_atomic_write_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.txt"
    atomic_write_text(target, "اول")
    atomic_write_text(target, "دوم")
    assert target.read_text(encoding="utf-8") == "دوم"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failed_multi_write_keeps_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    atomic_write_many({first: b"old train", second: b"old test"})

    real_temp_beside = atomic._temp_beside
    calls = 0

    def failing_temp_beside(target: Path):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("No space left on device")
        return real_temp_beside(target)

    monkeypatch.setattr(atomic, "_temp_beside", failing_temp_beside)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_many({first: b"new train", second: b"new test"})
    assert first.read_bytes() == b"old train"
    assert second.read_bytes() == b"old test"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl", "train.jsonl"]


def test_publish_directory_replaces_the_old_one(tmp_path: Path) -> None:
    import tempfile

    from persian_chat.atomic import publish_directory

    target = tmp_path / "served"
    target.mkdir()
    (target / "model.onnx").write_bytes(b"old")
    finished = Path(tempfile.mkdtemp(prefix=".served.", dir=tmp_path))  # created 0700
    (finished / "model.onnx").write_bytes(b"new")
    publish_directory(finished, target)
    assert (target / "model.onnx").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
    umask = os.umask(0)
    os.umask(umask)
    # as a plain mkdir would make it (0755 under umask 022), not mkdtemp's 0700
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask


def test_building_directory_publishes_on_success_and_keeps_the_old_one_on_error(
    tmp_path: Path,
) -> None:
    from persian_chat.atomic import building_directory

    target = tmp_path / "model"
    with building_directory(target) as build:
        (build / "weights").write_bytes(b"good")
    assert (target / "weights").read_bytes() == b"good"
    with pytest.raises(RuntimeError), building_directory(target) as build:
        (build / "weights").write_bytes(b"half")
        raise RuntimeError("the run failed")
    assert (target / "weights").read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
