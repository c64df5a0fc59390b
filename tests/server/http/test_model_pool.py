from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from persian_chat.errors import UserError
from persian_chat.server.http.model_pool import MIB, files_bytes, served_dirs
from persian_chat.server.http.serve import served_models

ASK = {"messages": [{"role": "user", "content": "سلام"}], "max_tokens": 4, "temperature": 0}


def _copies(source: Path, folder: Path, names: list[str]) -> tuple[list[Path], int]:
    """Copies of a served model, padded to (n + 0.5) MiB each, and a cap of n + 1 MiB: one
    of them fits, two do not. The padding is a file of the manifest (the server refuses a
    served directory with files its manifest does not list)."""
    whole = math.ceil((files_bytes(source) + 1024) / MIB)
    copies = []
    for name in names:
        target = folder / name
        shutil.copytree(source, target)
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        manifest["files"]["padding.bin"] = "0" * 64  # the digest's length, for the size
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        padding = b"\0" * (int((whole + 0.5) * MIB) - files_bytes(target))
        manifest["files"]["padding.bin"] = hashlib.sha256(padding).hexdigest()
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        (target / "padding.bin").write_bytes(padding)
        copies.append(target)
    return copies, whole + 1


def _listed(client: Any) -> dict[str, bool]:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return {m["id"]: m["loaded"] for m in response.json()["data"]}


def test_two_models_answer_alternately_within_the_memory_cap(
    make_client: Any, tiny_served_dir: Path, tmp_path: Path
) -> None:
    (first, second), cap_mb = _copies(tiny_served_dir, tmp_path, ["bot-a", "bot-b"])
    client = make_client(more_models=(first, second), models_memory_mb=cap_mb)
    served = tiny_served_dir.name
    assert _listed(client) == {served: True, "bot-a": False, "bot-b": False}
    for name in ["bot-a", "bot-b", "bot-a", "bot-b"]:
        response = client.post("/v1/chat/completions", json={**ASK, "model": name})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == name
        loaded = _listed(client)
        assert loaded[name] and sum(loaded.values()) == 2  # the first model and this one
    native = client.post("/api/chat", json={**ASK, "model": "bot-a", "stream": False})
    assert native.status_code == 200 and native.json()["model"] == "bot-a"
    answer = client.post("/v1/chat/completions", json=ASK)  # no model: the first one
    assert answer.status_code == 200 and answer.json()["model"] == served
    tokens = client.post("/tokenize", json={"prompt": "سلام", "model": "bot-b"})
    assert tokens.status_code == 200, tokens.text
    metrics = client.get("/metrics").text
    assert 'persian_chat_generated_tokens_total{model="bot-a"}' in metrics


def test_an_unknown_model_is_a_404_naming_the_served_ones(
    make_client: Any, tiny_served_dir: Path, tmp_path: Path
) -> None:
    (first,), cap_mb = _copies(tiny_served_dir, tmp_path, ["bot-a"])
    client = make_client(more_models=(first,), models_memory_mb=cap_mb)
    completion = {"prompt": "سلام", "model": "gpt-4", "max_tokens": 2}
    for route, body in [
        ("/v1/chat/completions", {**ASK, "model": "gpt-4"}),
        ("/api/chat", {**ASK, "model": "gpt-4"}),
        ("/v1/completions", completion),
    ]:
        response = client.post(route, json=body)
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["param"] == "model" and error["code"] == "model_not_found"
        assert "'bot-a'" in error["message"]


def test_a_model_over_the_cap_is_refused_and_the_others_serve_on(
    make_client: Any, tiny_served_dir: Path, tmp_path: Path
) -> None:
    (big,), cap_mb = _copies(tiny_served_dir, tmp_path, ["big"])
    client = make_client(more_models=(big,), models_memory_mb=cap_mb - 1)
    response = client.post("/v1/chat/completions", json={**ASK, "model": "big"})
    assert response.status_code == 503 and response.json()["error"]["code"] == "model_too_large"
    assert client.post("/v1/chat/completions", json=ASK).status_code == 200


def test_the_models_to_serve_come_from_the_options(tiny_served_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "versions"
    folder.mkdir()
    (one, two), _ = _copies(tiny_served_dir, folder, ["v1", "v2"])
    (folder / "notes").mkdir()  # not a served model: left out
    assert served_dirs(folder) == [one, two]
    assert served_models([tiny_served_dir], folder) == [tiny_served_dir, one, two]
    assert served_models([one], folder) == [one, two]  # named once only
    with pytest.raises(UserError, match="one name"):
        served_models([one, tmp_path / "x" / "v1"], None)
    with pytest.raises(UserError, match="no served model"):
        served_models([folder / "notes"], None)


def test_the_admin_adds_a_model_that_loads_on_its_first_request(
    make_client: Any, tiny_served_dir: Path, tmp_path: Path
) -> None:
    admin = "admin-key-0123456789abcdef"
    auth = {"Authorization": f"Bearer {admin}"}
    (version,), cap_mb = _copies(tiny_served_dir, tmp_path, ["version-3"])
    client = make_client(admin_key=admin, models_memory_mb=cap_mb)
    body = {"model_dir": str(version)}
    assert client.post("/admin/models", json=body).status_code == 401  # no key
    added = client.post("/admin/models", json=body, headers=auth)
    assert added.status_code == 200, added.text
    assert added.json() == {"model": "version-3", "models": [tiny_served_dir.name, "version-3"]}
    assert _listed(client) == {tiny_served_dir.name: True, "version-3": False}
    again = client.post("/admin/models", json=body, headers=auth)
    assert again.status_code == 409 and again.json()["error"]["code"] == "model_exists"
    response = client.post("/v1/chat/completions", json={**ASK, "model": "version-3"})
    assert response.status_code == 200 and response.json()["model"] == "version-3"
    assert _listed(client)["version-3"] is True
