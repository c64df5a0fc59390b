from __future__ import annotations

from pathlib import Path

import pytest


def test_a_benchmark_prints_what_the_report_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from persian_chat.benchmarks import common
    from persian_chat.benchmarks.report import benchmarks_section

    results = tmp_path / "benchmarks/results"
    monkeypatch.setattr(common, "RESULTS", results)
    result = {
        "title": "Decode",
        "description": "int8 at 200 tokens/s",
        "table": {"header": ["a", "b"], "rows": [["1", "2"]]},
        "tables": [{"title": "by context", "header": ["c"], "rows": [["3"]]}],
    }
    assert common.publish("decode", result) == results / "decode.json"
    printed = capsys.readouterr().out
    text = common.describe(result)
    assert text.startswith("### Decode\n\nint8 at 200 tokens/s\n\n| a | b |")
    assert "**by context**\n\n| c |" in text
    assert text in printed and text in benchmarks_section(results)
