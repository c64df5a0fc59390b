"""What the server loads before it can answer: the served model, the engine, the normalizer.

Loading takes seconds (checksums, onnxruntime session, hazm's lexicons), so the app does it
in a worker thread while /health answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from persian_chat.knowledge import SERVED_KNOWLEDGE
from persian_chat.server.engine.batch_tuning import tune_max_batch
from persian_chat.server.engine.core import Engine
from persian_chat.server.engine.utf8_guard import Utf8Guard
from persian_chat.server.engine.weights_choice import choose_weights
from persian_chat.server.kv.onnx_model import Decoder, load_decoder
from persian_chat.server.settings import ServerSettings, cpu_budget
from persian_chat.server.text.prompt import system_prefix
from persian_chat.server.text.retriever import Retriever, load_retriever
from persian_chat.server.text.served_model import (
    ServedModel,
    load_served_model,
)

log = logging.getLogger("persian_chat.server")


@dataclass
class Runtime:
    model: ServedModel
    engine: Engine
    normalize: Callable[[str], str]
    load_seconds: float
    knowledge: Retriever | None = None
    loaded_at: float = field(default_factory=time.time)  # the model's `created` in /v1/models
    weights: str = "int8"  # the weight format served (of those the directory carries)


def make_normalizer(model: ServedModel) -> Callable[[str], str]:
    """The normalizer the training data went through, with the settings stored in the
    model's manifest. hazm is kept (not re-implemented): measured, its import and lexicons
    cost ~325 MiB RSS, and an equal re-implementation would need the same lexicons."""
    if model.normalizer is None:
        log.warning("%s records no normalizer settings: user text is used as sent", model.path)
        return lambda text: text
    from persian_chat.normalize import PersianNormalizer

    normalizer = PersianNormalizer(model.normalizer)
    normalizer.normalize("سلام")  # load hazm's lexicons now, not on the first request
    return normalizer.normalize


def build_engine(
    model: ServedModel,
    decoder: Decoder,
    max_batch: int = 8,
    max_waiting: int = 16,
    prefix: list[int] | None = None,
    prompt_cache_mb: int = 0,
    lookup_tokens: int = 0,
) -> Engine:
    """The engine for a served model, with the UTF-8 guard of its tokenizer (so no answer
    shows U+FFFD); not started."""
    guard = Utf8Guard.for_table(model.byte_table)
    if guard is None:
        log.warning("%s: unknown tokenizer byte scheme, answers are not UTF-8 guarded", model.path)
    return Engine(
        decoder,
        model.context_length,
        max_batch,
        max_waiting,
        guard,
        prefix,
        prompt_cache_mb * 1024 * 1024,
        lookup_tokens,
    )


def release_free_heap() -> None:
    """Give the heap that loading freed (the ONNX protobuf, hazm's lexicon files) back to
    the OS: glibc keeps it otherwise. Measured on the served Gemma-3: -50 MiB RSS idle."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def knowledge_path(settings: ServerSettings, model_dir: Path) -> Path | None:
    """The knowledge base the model in `model_dir` is served (and evaluated) with: the one
    named with --knowledge, else the model's own (a studio version carries its bot's), else
    the project's fallback."""
    if settings.knowledge is not None:
        return settings.knowledge
    own = model_dir / SERVED_KNOWLEDGE
    if settings.model_knowledge and own.is_file():
        return own
    return settings.knowledge_fallback


def _discard(future: asyncio.Future[Runtime]) -> None:
    """Stop the engine of a load that finished after its caller was cancelled."""
    if not future.cancelled() and future.exception() is None:
        future.result().engine.shutdown(0)


async def load_in_thread(
    loader: Callable[[ServerSettings], Runtime], settings: ServerSettings
) -> Runtime:
    """`loader(settings)` in a worker thread. A thread cannot be cancelled: if the caller is
    (the server stopping), the engine it starts is shut down, never leaked."""
    future = asyncio.get_running_loop().run_in_executor(None, loader, settings)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_discard)
        raise


def load_weights(
    model: ServedModel, choice: str, prefix: list[int], threads: int
) -> tuple[str, Decoder]:
    """The decoder of the weight format `choice` names, or with "auto" of the one that
    decodes fastest here (each format the directory carries is loaded and timed)."""
    if choice != "auto":
        return choice, load_decoder(model.weight_file(choice, "--weights"), threads=threads)
    files = model.weight_files
    decoders = {name: load_decoder(path, threads=threads) for name, path in files.items()}
    chosen, _ = choose_weights(decoders, prefix)
    return chosen, decoders[chosen]


def load_runtime(settings: ServerSettings) -> Runtime:
    start = time.monotonic()
    model = load_served_model(settings.model_dir, verify=settings.verify_model)
    prefix = system_prefix(model, settings)
    weights, decoder = load_weights(model, settings.weights, prefix, settings.threads)
    normalize = make_normalizer(model)
    max_batch = settings.max_batch
    if max_batch is None:
        max_batch, _ = tune_max_batch(decoder, prefix, model.context_length)
    engine = build_engine(
        model,
        decoder,
        max_batch,
        settings.max_waiting,
        prefix,
        settings.prompt_cache_mb,
        settings.lookup_tokens,
    )
    knowledge = None
    path = knowledge_path(settings, model.path)
    if path is not None or settings.knowledge_url is not None:
        knowledge = load_retriever(
            path,
            settings.knowledge_passages,
            settings.knowledge_tokens,
            settings.knowledge_min_coverage,
            settings.knowledge_url,
        )
    engine.start()
    release_free_heap()
    seconds = time.monotonic() - start
    log.info(
        "loaded %s (%s weights) in %.1f s: %d threads (%s), batch up to %d",
        model.model_id,
        weights,
        seconds,
        settings.threads,
        ", ".join(f"{k} {v}" for k, v in cpu_budget().items()),
        max_batch,
    )
    return Runtime(model, engine, normalize, seconds, knowledge=knowledge, weights=weights)
