"""Start the training studio: the chat UI with its Studio page (/studio) and the job
service, in one Reflex process of its own (never the serving process).

Jobs run `persian-chat prepare/train/evaluate/export` as processes, from the folder this
command is started in (datasets/sources is found there). The studio listens on 127.0.0.1
by default; beyond loopback it needs the admin key (PERSIAN_CHAT_ADMIN_KEY or
--admin-key-file), which is also what `persian-chat serve` must have for the studio to
switch its model.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from persian_chat.errors import UserError
from persian_chat.studio.datasets import BLOCKLIST
from persian_chat.studio.settings import MIB, StudioSettings
from persian_chat_ui.launch import add_app_arguments, exec_reflex

HELP = "start the training studio (chat UI + /studio) against a running server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_app_arguments(
        parser,
        "the `persian-chat serve` the studio switches and monitors",
        "bind address; beyond loopback the admin key is required",
    )
    add = parser.add_argument
    add(
        "--home",
        type=Path,
        default=Path(os.environ.get("PERSIAN_CHAT_STUDIO_HOME", "models/studio")),
        help="datasets, jobs and versions (PERSIAN_CHAT_STUDIO_HOME)",
    )
    add(
        "--database-url",
        default=os.environ.get("PERSIAN_CHAT_STUDIO_DATABASE_URL", ""),
        help="SQLAlchemy URL of the records (default sqlite:///HOME/studio.db; "
        "postgresql+psycopg://... with its driver installed)",
    )
    add(
        "--admin-key-file",
        type=Path,
        default=None,
        help="file whose first line is the admin key (or PERSIAN_CHAT_ADMIN_KEY)",
    )
    add("--max-upload-mb", type=int, default=50, help="largest data file accepted")


def settings_from_args(args: argparse.Namespace) -> StudioSettings:
    key = os.environ.get("PERSIAN_CHAT_ADMIN_KEY", "")
    if args.admin_key_file is not None:
        try:
            lines = args.admin_key_file.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise UserError(f"{args.admin_key_file}: {exc.strerror}") from None
        key = lines[0] if lines else ""
    settings = StudioSettings(
        home=args.home,
        database_url=args.database_url,
        api_url=args.api_url,
        admin_key=key,
        host=args.host,
        max_upload_bytes=args.max_upload_mb * MIB,
        repo=Path.cwd(),
    )
    blocklist = settings.repo / BLOCKLIST
    if not blocklist.is_file():
        raise UserError(
            f"{blocklist} not found: start the studio in the persian-chat folder (its jobs run "
            "prepare with datasets/sources from there)"
        )
    if settings.needs_key and len(key) < 16:
        raise UserError(
            f"--host {args.host} reaches beyond this machine: set an admin key of at least 16 "
            "characters (PERSIAN_CHAT_ADMIN_KEY or --admin-key-file)"
        )
    return settings


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    environment = {"PERSIAN_CHAT_STUDIO": "1", **settings.environment()}
    exec_reflex(args.host, args.port, args.api_url, environment, "studio")
    return 0
