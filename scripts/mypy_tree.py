"""Build a link tree that mirrors pyproject's package-dir mapping, for mypy.

The stages live in top-level folders (lib/ is `persian_chat`, training/ is
`persian_chat.training`, ...). mypy cannot follow setuptools' editable-install finder, so it
type-checks this tree of symlinks instead; error paths point through it to the real files.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path


def main(out: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(out, ignore_errors=True)
    for package, folder in mapping.items():
        target = out.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((root / folder).glob("*.py*")):
            if source.suffix in (".py", ".pyi", ".typed"):
                (target / source.name).symlink_to(source)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".mypy_tree"))
