"""server/ is four layers whose imports only run downward: kv <- engine <- text <- http
(server/__init__.py says what each holds). Every import counts here, deferred ones and those
under TYPE_CHECKING too: a layer that needs one above it is in the wrong place."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_import_graph import import_targets

LAYERS = ("kv", "engine", "text", "http")  # lowest first
SHARED = "settings"  # the server's settings: read by every layer, importing none


def imported_modules(path: Path) -> set[str]:
    """Everything the file imports, wherever the import stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {target for node in ast.walk(tree) for target in import_targets(node)}


def rank(module: str) -> int | None:
    """The layer of a server module by height (kv 0 ... http 3); None outside the layers
    (the settings, anything not in the server)."""
    parts = module.split(".")
    if parts[:2] != ["persian_chat", "server"] or len(parts) < 3 or parts[2] not in LAYERS:
        return None
    return LAYERS.index(parts[2])


def upward_imports(server: Path) -> list[str]:
    """'file -> imported' for every import of a layer above the importer's own (a module
    outside the layers, the settings, may import none)."""
    wrong: list[str] = []
    for path in sorted(server.rglob("*.py")):
        parts = path.relative_to(server).with_suffix("").parts
        own = LAYERS.index(parts[0]) if parts[0] in LAYERS else -1
        for target in sorted(imported_modules(path)):
            height = rank(target)
            if height is not None and height > own:
                wrong.append(f"server/{'/'.join(parts)}.py -> {target}")
    return wrong


def test_every_server_module_lives_in_a_layer(repo: Path) -> None:
    server = repo / "server"
    top = {p.stem for p in server.glob("*.py")} - {"__init__"}
    assert top == {SHARED}
    assert {p.name for p in server.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        LAYERS
    )
    for layer in LAYERS:
        assert ast.get_docstring(ast.parse((server / layer / "__init__.py").read_text("utf-8")))


def test_imports_only_run_downward(repo: Path) -> None:
    assert upward_imports(repo / "server") == []


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    for layer in (*LAYERS, ""):
        (tmp_path / layer).mkdir(exist_ok=True)
    (tmp_path / "settings.py").write_text("import os\n", encoding="utf-8")
    (tmp_path / "http" / "app.py").write_text(
        "from persian_chat.server.kv.onnx_model import OnnxModel\n"
        "from persian_chat.server.settings import ServerSettings\n",
        encoding="utf-8",
    )
    (tmp_path / "kv" / "cache.py").write_text(
        "def f() -> None:\n    from persian_chat.server.text.prompt import Prompt\n",
        encoding="utf-8",
    )
    assert upward_imports(tmp_path) == [
        "server/kv/cache.py -> persian_chat.server.text.prompt",
        "server/kv/cache.py -> persian_chat.server.text.prompt.Prompt",
    ]
