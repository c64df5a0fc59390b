"""The package's module-level imports form no cycle: every module can be read (and loaded)
after the ones it imports, which is what lets a newcomer read the code bottom-up."""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path


def module_files(repo: Path) -> dict[str, Path]:
    """Every module by its import name, from pyproject's package-dir mapping."""
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    modules: dict[str, Path] = {}
    for package, folder in config["tool"]["setuptools"]["package-dir"].items():
        base = repo / folder
        for path in base.rglob("*.py"):
            if any(part.startswith(".") for part in path.relative_to(base).parts):
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def import_targets(node: ast.AST) -> list[str]:
    """What an import statement may name: each module, and module.name for each name of a
    from-import (a name may be a submodule); nothing for other nodes or relative imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return []


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports at module level (imports inside functions
    and under TYPE_CHECKING are deferred on purpose and left out)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = import_targets(node)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_package_has_no_import_cycle(repo: Path) -> None:
    modules = module_files(repo)
    assert len(modules) > 100 and "persian_chat.server.engine.core" in modules
    assert cycles(import_graph(modules)) == []


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
