from __future__ import annotations

import subprocess
import sys


def test_server_modules_never_import_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "import pkgutil, importlib, persian_chat.server as s\n"
        "names = [m.name for m in pkgutil.walk_packages(s.__path__, s.__name__ + '.')]\n"
        "short = {n.removeprefix(s.__name__ + '.') for n in names}\n"
        "assert {'http.app', 'engine.core', 'http.serve', 'http.runtime'} <= short, names\n"
        "for name in names: importlib.import_module(name)\n"
        "import persian_chat.cli; persian_chat.cli.build_parser()\n"
        'heavy = [m for m in ("torch", "transformers", "optimum", "hazm")'
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
