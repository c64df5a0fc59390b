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


def test_tests_benchmarks_and_limitations_come_from_files(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "datasets", tmp_path / "datasets")
    (tmp_path / "logs").mkdir()
    summary = {"date": "2026-11-22T00:00:00+00:00", "python": "3.11.7", "duration_s": 321.0,
               "exit_status": 0, "counts": {"passed": 296, "failed": 0, "skipped": 1}}  # fmt: skip
    (tmp_path / "logs/pytest-summary.json").write_text(json.dumps(summary), encoding="utf-8")
    results = tmp_path / "benchmarks/results"
    results.mkdir(parents=True)
    bench = {"title": "Decode", "description": "d", "load_before": [3.5, 1, 1],
             "machine": {"logical_cores": 2, "physical_cores": 2, "cpu": "X", "cpu_flags": [],
                         "memory_gib": 8},
             "table": {"header": ["a", "b"], "rows": [["1", "2"]]}}  # fmt: skip
    (results / "decode.json").write_text(json.dumps(bench), encoding="utf-8")
    text = build_report(tmp_path)
    assert "296 passed, 1 skipped in 321 s, exit status 0" in text
    assert "| a | b |" in text and "| 1 | 2 |" in text
    assert "`decode.json` (1-minute load 3.5 on 2 cores)" in text
    kept = sum(s["counts"]["kept"] for s in json.loads(
        (tmp_path / "datasets/manifest.json").read_text(encoding="utf-8"))["sources"])  # fmt: skip
    assert f"{kept} kept rows" in text and "Gemma Terms of Use" in text
    assert "make demo" in text and "2 physical / 2 logical, 8 GiB" in text
