"""Start the chat UI in production mode (`reflex run --env prod --single-port`).

Works offline with only the package registries: bun comes from npm (`bun@1.4.5` into
ui/.tools, because Reflex 0.10 needs bun >= 1.4.4 or Node >= 22.22), its package cache stays
in ui/.bun-cache, the Vazirmatn font is copied from its npm package into ui/assets/fonts, the
npm registry is the one `npm config get registry` names, and Reflex's update check and
telemetry are off. The UI's backend talks to the API server at --api-url.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from persian_chat.errors import UserError

HELP = "start the Reflex chat UI (production mode) against a running server"
UI_DIR = Path(__file__).resolve().parent.parent
BUN_VERSION = "1.4.5"
VAZIRMATN_VERSION = "33.0.3"
FONTS = ("Vazirmatn-Regular.woff2", "Vazirmatn-Bold.woff2")


def _run(command: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise UserError(
            f"{command[0]} not found: install Node.js/npm (apt-get install npm)"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise UserError(f"{' '.join(command)} failed: {exc.stderr.strip()[-400:]}") from None
    return done.stdout.strip()


def npm_registry() -> str:
    return os.environ.get("NPM_CONFIG_REGISTRY") or _run(["npm", "config", "get", "registry"])


def ensure_bun(ui_dir: Path = UI_DIR) -> Path:
    """bun from the npm registry, installed once into ui/.tools."""
    bun = ui_dir / ".tools" / "node_modules" / ".bin" / "bun"
    if not bun.exists():
        print(f"installing bun {BUN_VERSION} from the npm registry into {bun.parent}", flush=True)
        _run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(ui_dir / ".tools"),
                f"bun@{BUN_VERSION}",
            ]
        )
    if not bun.exists():
        raise UserError(f"npm installed no bun at {bun}")
    return bun


def ensure_fonts(ui_dir: Path = UI_DIR) -> None:
    """Vazirmatn's woff2 files from its npm package, so no font CDN is ever needed."""
    target = ui_dir / "assets" / "fonts"
    if all((target / name).is_file() for name in FONTS):
        return
    with tempfile.TemporaryDirectory() as tmp:
        name = _run(["npm", "pack", f"vazirmatn@{VAZIRMATN_VERSION}", "--silent"], cwd=Path(tmp))
        with tarfile.open(Path(tmp) / name.splitlines()[-1]) as archive:
            for font in FONTS:
                member = archive.extractfile(f"package/fonts/webfonts/{font}")
                if member is None:
                    raise UserError(f"vazirmatn@{VAZIRMATN_VERSION} has no {font}")
                target.mkdir(parents=True, exist_ok=True)
                (target / f"{font}.tmp").write_bytes(member.read())
                (target / f"{font}.tmp").replace(target / font)


def ui_environment(api_url: str, port: int, ui_dir: Path = UI_DIR) -> dict[str, str]:
    bun = ensure_bun(ui_dir)
    return {
        **os.environ,
        "PATH": f"{bun.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "TELEMETRY_ENABLED": "false",
        "NPM_CONFIG_REGISTRY": npm_registry(),
        "BUN_INSTALL_CACHE_DIR": str(ui_dir / ".bun-cache"),
        "PERSIAN_CHAT_API_URL": api_url,
        "PERSIAN_CHAT_UI_PORT": str(port),
    }


def reflex_command(host: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"),
        *("--backend-host", host, "--backend-port", str(port), "--loglevel", "warning"),
    ]


def add_app_arguments(parser: argparse.ArgumentParser, api_help: str, host_help: str) -> None:
    """--api-url, --host and --port, shared by `ui` and `studio`."""
    add = parser.add_argument
    add(
        "--api-url",
        default=os.environ.get("PERSIAN_CHAT_API_URL", "http://127.0.0.1:8000"),
        help=api_help,
    )
    add("--host", default="127.0.0.1", help=host_help)
    add("--port", type=int, default=3000, help="port of the app (pages and its websocket)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_app_arguments(
        parser,
        "the server the UI talks to (users can change it in Settings)",
        "bind address of the UI",
    )


def exec_reflex(host: str, port: int, api_url: str, extra_env: dict[str, str], banner: str) -> None:
    """Become the Reflex app (never returns)."""
    if shutil.which("npm") is None:
        raise UserError("the UI needs npm (for bun and the font): apt-get install npm")
    ensure_fonts()
    env = {**ui_environment(api_url, port), **extra_env}
    print(f"{banner}: http://{host}:{port}  (API: {api_url})", flush=True)
    # become reflex instead of waiting on it: a SIGTERM to this process (systemd, a test's
    # terminate()) then reaches reflex itself, and no reflex is left running without a parent
    command = reflex_command(host, port)
    os.chdir(UI_DIR)
    os.execve(command[0], command, env)


def run(args: argparse.Namespace) -> int:
    exec_reflex(args.host, args.port, args.api_url, {"PERSIAN_CHAT_STUDIO": "0"}, "chat UI")
    return 0
