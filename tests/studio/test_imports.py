"""The studio's web process never imports torch (jobs run the stages as processes), and the
serving process never imports the studio (its RSS does not grow with it)."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


def test_studio_modules_do_not_import_torch() -> None:
    code = (
        "import pkgutil, importlib, persian_chat.studio as s\n"
        "names = [m.name for m in pkgutil.iter_modules(s.__path__)]\n"
        "assert {'jobs', 'runner', 'store', 'uploads', 'service'} <= set(names), names\n"
        "for name in names: importlib.import_module('persian_chat.studio.' + name)\n"
    )
    assert loaded_after(code, ("torch", "transformers", "onnxruntime", "hazm")) == []


def test_the_server_does_not_import_the_studio() -> None:
    code = (
        "import pkgutil, importlib, persian_chat.server as s\n"
        "for m in pkgutil.iter_modules(s.__path__):\n"
        "    importlib.import_module('persian_chat.server.' + m.name)\n"
    )
    assert loaded_after(code, ("persian_chat.studio", "reflex", "sqlalchemy")) == []
