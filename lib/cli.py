"""The `persian-chat` command: one subcommand per pipeline stage.

Each stage module exposes HELP, add_arguments(parser) and run(args) -> exit code, and keeps
its heavy imports (torch, hazm, onnxruntime) inside run(), so `--help` stays fast and a
serving-only install can build the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from persian_chat import __version__
from persian_chat.errors import UserError

COMMANDS: dict[str, str] = {
    "prepare": "persian_chat.training.data.prepare",
    "trim-vocab": "persian_chat.training.trim_vocab",
    "train": "persian_chat.training.train",
    "evaluate": "persian_chat.training.evaluate",
    "export": "persian_chat.export.export",
    "serve": "persian_chat.server.http.serve",
    "ui": "persian_chat_ui.launch",
    "studio": "persian_chat_ui.studio_launch",
    "bench": "persian_chat.benchmarks.cli",
    "report": "persian_chat.benchmarks.report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persian-chat",
        description="Fine-tune, export and serve a small Persian chat model on CPU.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UserError as exc:
        print(f"persian-chat {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"persian-chat {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
