from __future__ import annotations

import subprocess
import sys


def test_server_modules_never_import_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "import persian_chat.server.onnx_model, persian_chat.server.sampling\n"
        "import persian_chat.server.detokenizer, persian_chat.server.served_model\n"
        "import persian_chat.server.generation, persian_chat.server.stop_strings\n"
        'heavy = [m for m in ("torch", "transformers", "optimum", "hazm")'
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
