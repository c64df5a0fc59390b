from __future__ import annotations

import json
import shutil
from pathlib import Path

from persian_chat.report import build_report


def test_report_without_artifacts_says_so(tmp_path: Path) -> None:
    text = build_report(tmp_path)
    assert "No dataset yet" in text
    assert "Not run yet" in text and "persian-chat train" in text
    assert "No results yet" in text


def test_report_figures_come_from_the_manifest(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "datasets", tmp_path / "datasets")
    manifest = json.loads((tmp_path / "datasets/manifest.json").read_text(encoding="utf-8"))
    text = build_report(tmp_path)
    counts = manifest["counts"]
    assert f"{counts['train']} train and {counts['test']} test conversations" in text
    assert (tmp_path / "datasets/SHA256SUMS").read_text(encoding="utf-8").splitlines()[0] in text
    for source in manifest["sources"]:
        assert source["source"] in text
