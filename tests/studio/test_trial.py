"""Trying a version: a test server process of its own, one at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from persian_chat.studio.trial import TrialError, TrialServer


@pytest.mark.slow
def test_try_one_version_then_another(tiny_served_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-v2"
    shutil.copytree(tiny_served_dir, other)
    trial = TrialServer(tmp_path / "logs")
    with pytest.raises(TrialError):
        trial.ask("سلام")  # nothing tried yet
    try:
        trial.start("served", tiny_served_dir)
        first = trial._process
        assert trial.ask("سلام", max_tokens=8)
        trial.start("other-v2", other)
        assert first is not None and first.poll() is not None  # the first one stopped
        assert trial.version == "other-v2" and trial.ask("سلام", max_tokens=8)
    finally:
        trial.stop()
    assert trial._process is None and trial.version == ""
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(TrialError, match="broken"):
        trial.start("broken", broken)
