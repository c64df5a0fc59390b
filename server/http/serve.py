"""Serve a model exported by `persian-chat export` over HTTP (uvicorn + Starlette).

Endpoints: POST /api/chat (SSE), POST /v1/chat/completions and GET /v1/models (OpenAI
compatible), GET /health, GET /metrics, and POST /admin/model (switch the served model
without a restart; only with an admin key). Options can also come from the environment
(PERSIAN_CHAT_API_KEYS, PERSIAN_CHAT_ADMIN_KEY, ...), which is how the systemd unit sets
them. On SIGTERM/SIGINT running answers get --shutdown-grace seconds to finish, then end
with an error event; the process never imports torch.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from persian_chat.errors import UserError
from persian_chat.server.settings import TUNABLE, ServerSettings

HELP = "serve the exported model over HTTP with token streaming"
DEFAULT_KNOWLEDGE = Path("datasets/knowledge/passages.jsonl")
# short option names kept from before the limits became options
OPTION_NAMES = {"rate_limit_per_minute": "rate-limit", "shutdown_grace_seconds": "shutdown-grace"}
log = logging.getLogger("persian_chat.server")


# the PERSIAN_CHAT_* variables that are not a tunable setting's (those come from TUNABLE)
OTHER_VARIABLES = frozenset(
    {
        "MODEL",
        "HOST",
        "PORT",
        "THREADS",
        "API_KEYS_FILE",
        "API_KEYS",
        "CORS_ORIGINS",
        "SYSTEM_PROMPT",
        "LOG_USER_TEXT",
        "ADMIN_KEY",
        "ADMIN_KEY_FILE",
        "TRUSTED_PROXIES",
        "KNOWLEDGE",
        "KNOWLEDGE_URL",
        "WEIGHTS",
    }
)


def _env(name: str, default: Any = None) -> Any:
    if name not in OTHER_VARIABLES and name not in {_option(t)[1] for t in TUNABLE}:
        raise KeyError(f"PERSIAN_CHAT_{name} is not a documented variable")
    return os.environ.get(f"PERSIAN_CHAT_{name}", default)


def _option(name: str) -> tuple[str, str]:
    """A tunable setting's command-line option and environment variable (without prefix)."""
    option = OPTION_NAMES.get(name, name.replace("_", "-"))
    return option, option.replace("-", "_").upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--model",
        type=Path,
        action="append",
        help="served model directory (PERSIAN_CHAT_MODEL; default "
        "models/persian-chat-onnx-int8); again for more models, chosen by a request's "
        "`model` (their directory names) and loaded on first use",
    )
    add(
        "--models-dir",
        type=Path,
        help="serve every exported model in this folder as well, each loaded on first use",
    )
    add("--host", default=_env("HOST", "127.0.0.1"), help="bind address (PERSIAN_CHAT_HOST)")
    add("--port", type=int, default=int(_env("PORT", 8000)), help="port (PERSIAN_CHAT_PORT)")
    add(
        "--threads",
        type=int,
        default=_env("THREADS"),
        help="onnxruntime intra-op threads (default: physical cores)",
    )
    add(
        "--api-keys-file",
        type=Path,
        default=_env("API_KEYS_FILE"),
        help="file with one API key per line (PERSIAN_CHAT_API_KEYS adds comma-separated "
        "keys); with keys, /api and /v1 need 'Authorization: Bearer KEY'",
    )
    add(
        "--admin-key-file",
        type=Path,
        default=_env("ADMIN_KEY_FILE"),
        help="file whose first line is the admin key (or PERSIAN_CHAT_ADMIN_KEY); with it, "
        "POST /admin/model with 'Authorization: Bearer KEY' switches the served model "
        "without a restart (without it, 403)",
    )
    add(
        "--cors-origin",
        action="append",
        default=None,
        help="allowed browser origin, repeatable (PERSIAN_CHAT_CORS_ORIGINS: a,b)",
    )
    add(
        "--trusted-proxy",
        action="append",
        default=None,
        help="address or network of a proxy whose X-Forwarded-For names the client, "
        "repeatable (PERSIAN_CHAT_TRUSTED_PROXIES: a,b; default: none, the header is "
        "ignored)",
    )
    knowledge = parser.add_mutually_exclusive_group()
    knowledge.add_argument(
        "--knowledge",
        type=Path,
        default=_env("KNOWLEDGE"),
        help="knowledge base whose passages are retrieved into each prompt: a passages.jsonl "
        f"or a folder holding one (PERSIAN_CHAT_KNOWLEDGE; default: {DEFAULT_KNOWLEDGE} "
        "when it exists)",
    )
    knowledge.add_argument(
        "--no-knowledge", action="store_true", help="answer without a knowledge base"
    )
    add(
        "--knowledge-url",
        default=_env("KNOWLEDGE_URL"),
        help="PostgreSQL knowledge base shared by replicas (postgresql://user@host/db, "
        "PERSIAN_CHAT_KNOWLEDGE_URL; needs the postgres extra); filled from the passages "
        "file when empty",
    )
    add(
        "--weights",
        default=_env("WEIGHTS", "auto"),
        help="weight format to serve where a model carries several (int8, int4): auto "
        "times a few decode steps of each at start-up and serves the fastest "
        "(PERSIAN_CHAT_WEIGHTS; default %(default)s)",
    )
    add(
        "--system-prompt",
        default=_env("SYSTEM_PROMPT"),
        help="system prompt added when a client sends none (default: the model's)",
    )
    add(
        "--log-user-text",
        action="store_true",
        default=bool(_env("LOG_USER_TEXT")),
        help="debug only: put messages and answers in the request log",
    )
    for name in TUNABLE:
        field = ServerSettings.model_fields[name]
        option, variable = _option(name)
        number = float if field.annotation is float else int
        raw = _env(variable)
        add(
            f"--{option}",
            dest=name,
            type=number,
            default=number(raw) if raw not in (None, "") else field.default,
            help=f"{field.description} (PERSIAN_CHAT_{variable}; default %(default)s)",
        )


def environment_variables() -> set[str]:
    """Every PERSIAN_CHAT_* variable `serve` reads (the systemd env file is checked against
    it); `_env` refuses any other name, so this list cannot fall behind the code."""
    tunable = {_option(name)[1] for name in TUNABLE}
    return {f"PERSIAN_CHAT_{name}" for name in OTHER_VARIABLES | tunable}


def knowledge_setting(path: Path | None, off: bool) -> dict[str, Any]:
    """The knowledge settings of `--knowledge PATH` (it must exist) and `--no-knowledge`;
    with neither, a model's own knowledge base, else the project's when there is one (a
    served model without the checkout answers without passages)."""
    if off:
        return {"knowledge": None, "model_knowledge": False, "knowledge_fallback": None}
    fallback = DEFAULT_KNOWLEDGE if DEFAULT_KNOWLEDGE.is_file() else None
    if path is not None:
        from persian_chat.server.text.retriever import knowledge_file

        if not knowledge_file(path).is_file():
            raise UserError(f"{path}: no knowledge base (a passages.jsonl or a folder with one)")
    return {"knowledge": path, "model_knowledge": True, "knowledge_fallback": fallback}


def served_models(named: list[Path] | None, folder: Path | None) -> list[Path]:
    """The served directories: the ones named (the first is loaded at start-up), then every
    one in `folder`; ids are directory names, so two with one name are refused."""
    from persian_chat.server.http.model_pool import MANIFEST, served_dirs

    models = list(named or [Path(_env("MODEL", "models/persian-chat-onnx-int8"))])
    if folder is not None:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder (--models-dir)")
        models += [
            p for p in served_dirs(folder) if p.resolve() not in {m.resolve() for m in models}
        ]
    names = [p.name for p in models]
    if len(set(names)) != len(names):
        raise UserError(f"two served models have one name (the model id): {sorted(names)}")
    for path in models:
        if not (path / MANIFEST).is_file():
            raise UserError(f"{path}: no served model here (run `persian-chat export`)")
    return models


def settings_from_args(args: argparse.Namespace) -> Any:
    from persian_chat.server.settings import load_admin_key, load_api_keys

    models = served_models(args.model, args.models_dir)
    try:
        keys = load_api_keys(_env("API_KEYS"), args.api_keys_file)
        admin_key = load_admin_key(_env("ADMIN_KEY"), args.admin_key_file)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if admin_key is not None and admin_key in keys:  # every client could switch the model
        raise UserError("the admin key must not also be an API key")
    origins = args.cors_origin or [o for o in (_env("CORS_ORIGINS") or "").split(",") if o]
    proxies = args.trusted_proxy or [
        p.strip() for p in (_env("TRUSTED_PROXIES") or "").split(",") if p.strip()
    ]
    fields: dict[str, Any] = {
        "model_dir": models[0],
        "more_models": tuple(models[1:]),
        "api_keys": keys,
        "cors_origins": tuple(origins),
        "system_prompt": args.system_prompt,
        "weights": args.weights,
        "log_user_text": args.log_user_text,
        "admin_key": admin_key,
        **{name: getattr(args, name) for name in TUNABLE},
    }
    fields["trusted_proxies"] = tuple(proxies)
    fields.update(knowledge_setting(args.knowledge, args.no_knowledge))
    if args.knowledge_url and not args.no_knowledge:
        fields["knowledge_url"] = args.knowledge_url
    if args.threads:
        fields["threads"] = int(args.threads)
    try:
        return ServerSettings(**fields)
    except ValueError as exc:  # pydantic's ValidationError: name the setting, not a trace
        raise UserError(str(exc)) from None


def configure_server_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("persian_chat").setLevel(logging.INFO)
    requests = logging.getLogger("persian_chat.server.requests")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))  # JSON lines as they are
    requests.addHandler(handler)
    requests.propagate = False


def uvicorn_config(app: Any, settings: ServerSettings, **options: Any) -> Any:
    """uvicorn's settings for the app: no proxy headers (the gate believes X-Forwarded-For
    only from --trusted-proxy), and our HTTP protocol with a deadline for request headers."""
    import uvicorn

    from persian_chat.server.http.http_protocol import protocol_with_header_timeout

    return uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        http=protocol_with_header_timeout(settings.header_timeout_seconds),
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
        **options,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from persian_chat.server.http.app import create_app
    from persian_chat.server.http.app_state import AppState

    configure_server_logging()
    settings = settings_from_args(args)
    if not settings.api_keys:
        log.warning("no API keys configured: anyone who can reach the port can use the API")
    if settings.admin_key:
        log.info("admin key set: POST /admin/model can switch the served model")

    server: uvicorn.Server | None = None
    app = create_app(settings)
    state: AppState = app.state.app_state

    class GracefulServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            for runtime in state.runtimes():  # an old model still draining after a switch too
                runtime.engine.shutdown(settings.shutdown_grace_seconds)
            super().handle_exit(sig, frame)

    config = uvicorn_config(app, settings, host=args.host, port=args.port)
    server = GracefulServer(config)

    def fatal() -> None:  # the engine died, or the model could not load: nothing to serve
        assert server is not None
        server.should_exit = True

    state.on_fatal = fatal
    log.info("serving %s on http://%s:%d", settings.model_dir, args.host, args.port)
    server.run()
    if state.status == "failed" and state.runtime is not None:
        raise UserError(f"stopped: {state.error}")  # non-zero: the supervisor restarts us
    if state.status == "failed":
        raise UserError(f"could not load {settings.model_dir}: {state.error}")
    return 0
