from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from persian_chat.checksums import (
    format_sha256sums,
    parse_sha256sums,
    sha256_file,
    verify_sha256sums,
)


def _write_sums(directory: Path, names: list[str]) -> None:
    digests = {name: sha256_file(directory / name) for name in names}
    (directory / "SHA256SUMS").write_text(format_sha256sums(digests), encoding="utf-8")


def test_roundtrip_and_verify(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text("دوم\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text("اول\n", encoding="utf-8")
    _write_sums(tmp_path, ["b.jsonl", "a.jsonl"])
    text = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8")
    assert [line.split("  ")[1] for line in text.splitlines()] == ["a.jsonl", "b.jsonl"]
    assert set(parse_sha256sums(text)) == {"a.jsonl", "b.jsonl"}
    verify_sha256sums(tmp_path)
    (tmp_path / "a.jsonl").write_text("تغییر\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.jsonl: sha256 .* does not match"):
        verify_sha256sums(tmp_path)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum missing")
def test_format_is_accepted_by_sha256sum(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_bytes(b'{"messages": []}\n')
    _write_sums(tmp_path, ["train.jsonl"])
    result = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "train.jsonl: OK" in result.stdout


def test_malformed_sums_line_is_reported() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_sha256sums("not a checksum line\n")
