from __future__ import annotations

import subprocess
import sys


def test_server_modules_never_import_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "import pkgutil, importlib, persian_chat.server as s\n"
        "names = [m.name for m in pkgutil.iter_modules(s.__path__)]\n"
        "assert {'app', 'engine', 'serve', 'runtime'} <= set(names), names\n"
        "for name in names: importlib.import_module('persian_chat.server.' + name)\n"
        "import persian_chat.cli; persian_chat.cli.build_parser()\n"
        'heavy = [m for m in ("torch", "transformers", "optimum", "hazm")'
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
