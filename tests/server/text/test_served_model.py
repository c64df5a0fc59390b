from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from persian_chat.server.text.served_model import ServedModelError, load_served_model


def copy(served: Path, tmp_path: Path) -> Path:
    target = tmp_path / "served"
    shutil.copytree(served, target)
    return target


def test_loads_tokenizer_template_stops_and_settings(tiny_served_dir: Path) -> None:
    model = load_served_model(tiny_served_dir)
    assert model.tokenizer.token_to_id("<end_of_turn>") in model.stop_ids
    assert model.bos_token == "<|endoftext|>"
    assert "<start_of_turn>" in model.chat_template
    assert model.onnx_path.is_file()
    assert model.manifest["precision"] == "int8"


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: (d / "tokenizer.json").write_text("{}", encoding="utf-8"), "does not match"),
        (lambda d: (d / "config.json").unlink(), "listed in manifest.json but missing"),
        (lambda d: (d / "stray.bin").write_bytes(b"x"), "files not in manifest.json: stray.bin"),
        (lambda d: (d / "manifest.json").write_text("{", encoding="utf-8"), "not valid JSON"),
    ],
)
def test_refuses_a_directory_that_does_not_match_its_manifest(
    tiny_served_dir: Path,
    tmp_path: Path,
    tamper,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    served = copy(tiny_served_dir, tmp_path)
    tamper(served)
    with pytest.raises(ServedModelError, match=message):
        load_served_model(served)


def test_refuses_other_formats_and_missing_dirs(tiny_served_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ServedModelError, match="not a directory"):
        load_served_model(tmp_path / "absent")
    served = copy(tiny_served_dir, tmp_path)
    manifest = json.loads((served / "manifest.json").read_text(encoding="utf-8"))
    manifest["format"] = "something-else"
    (served / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ServedModelError, match="format 'something-else'"):
        load_served_model(served)
