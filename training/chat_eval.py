"""Chat-quality evaluation of the served int8 ONNX model: the engine users get, not PyTorch.

Held-out prompts of test.jsonl (training/chat_prompts.py) go through the server's own path —
the JSON body /api/chat would get, server/http/prompt_request.py's build_prompt
(normalization, system prompt, context fit, prompt ids, sampling defaults) and
server/http/runtime.py's engine (with its UTF-8 guard), every prompt submitted at once so
continuous batching runs them together —
once greedy (temperature 0) and once with the server's default sampling (no sampling field
in the request, so DEFAULT_SAMPLING applies, whatever it becomes), each prompt with a fixed
seed; `modes` adds other settings to compare (how the defaults are chosen). The answers are
the streamed text a client sees (server/text/stream.py stream_text). Scores
(training/chat_scoring.py) go to logs/chat_eval.json under the model's label, beside the
labels already there; the worst answers per category go to their own section of
logs/errors.txt.

Nothing here imports torch: a serving-only install plus sacrebleu runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from persian_chat.atomic import atomic_write_text
from persian_chat.checksums import sha256_file
from persian_chat.errors import UserError
from persian_chat.knowledge import PASSAGES_HEADING
from persian_chat.server.engine.core import Engine
from persian_chat.server.http.api_schema import ChatRequest
from persian_chat.server.http.prompt_request import build_prompt
from persian_chat.server.http.runtime import build_engine, make_normalizer
from persian_chat.server.kv.onnx_model import load_decoder
from persian_chat.server.settings import ServerSettings, default_threads
from persian_chat.server.text.prompt import Prompt, PromptError
from persian_chat.server.text.retriever import Retriever, load_retriever
from persian_chat.server.text.served_model import ServedModel, ServedModelError, load_served_model
from persian_chat.server.text.stream import GenerationError, StreamStats, stream_text
from persian_chat.settings import DEFAULT_NORMALIZER
from persian_chat.training.chat_data import verify_dataset
from persian_chat.training.chat_prompts import EvalPrompt, load_prompts, select_prompts
from persian_chat.training.chat_scoring import AnswerScore, score_answer, summarize, worst
from persian_chat.training.errors_file import replace_section

log = logging.getLogger("persian_chat.chat_eval")

RESULTS_FORMAT = "persian-chat-chat-eval/1"
# Request fields per sampling mode; "default" sends none, so the server's defaults apply.
MODES: dict[str, dict[str, Any]] = {"greedy": {"temperature": 0.0}, "default": {}}
_LABEL = re.compile(r"^[\w.+-]{1,40}$")


@dataclass(frozen=True)
class ChatEvalConfig:
    served_dir: Path
    data_dir: Path
    logs_dir: Path
    label: str
    prompts: int = 160
    scored_prompts: int = 100  # at least this many per task-scored category (1 answer = 1 point)
    max_tokens: int = 128
    seed: int = 13  # selection order; prompt i samples with seed + i
    threads: int = field(default_factory=default_threads)
    max_batch: int = 8
    examples: int = 1  # worst answers per category and mode in errors.txt
    # sampling modes: name -> request fields (e.g. {"frequency_penalty": 0.5} to try a default)
    modes: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(MODES))
    # the served knowledge base: the prompts get its passages (retrieved and computed) as
    # the server gives them, and the knowledge part (training/knowledge_eval.py) runs;
    # None: neither
    knowledge: Path | None = None
    tables: Path = Path("datasets/sources/tables")
    eval_sources: Path = Path("datasets/sources/eval")
    weights: str = "int8"  # which weight format of the served directory answers (int8, int4)

    def __post_init__(self) -> None:
        for name in (self.label, *self.modes):
            if not _LABEL.match(name):
                raise UserError(f"name {name!r}: use 1-40 letters, digits, '.', '+', '-', '_'")
        if self.prompts < 1 or self.max_tokens < 1 or self.examples < 0:
            raise UserError("prompts and max tokens must be >= 1, examples >= 0")


@dataclass(frozen=True)
class Planned:
    prompt: EvalPrompt
    mode: str
    job: Prompt


def open_served_model(path: Path) -> ServedModel:
    try:
        return load_served_model(path)
    except ServedModelError as exc:
        raise UserError(f"{exc} (export the model first: `persian-chat export`)") from None


def plan_jobs(
    prompts: Sequence[EvalPrompt],
    model: ServedModel,
    settings: ServerSettings,
    config: ChatEvalConfig,
    retriever: Retriever | None = None,
) -> tuple[list[Planned], list[EvalPrompt]]:
    """One engine job per prompt and mode, built from the JSON body /api/chat would get,
    exactly as the server builds it (with `retriever`, the served knowledge base: retrieved
    and computed passages in front of the question, as users get them; a reading row of the
    test set carries its own passages and is left as written); prompts that do not fit the
    context are returned apart."""
    normalize = make_normalizer(model)
    planned: list[Planned] = []
    skipped: list[EvalPrompt] = []
    for index, prompt in enumerate(prompts):
        jobs = []
        try:
            for mode, fields in config.modes.items():
                body = {"messages": prompt.messages, "seed": config.seed + index, **fields}
                try:
                    request = ChatRequest.model_validate_json(json.dumps(body))
                except ValidationError as exc:
                    raise UserError(f"sampling mode {mode}: {exc}") from None
                own = PASSAGES_HEADING in prompt.user  # a reading row: passages given
                knowledge = None if own else retriever
                job = build_prompt(
                    request, config.max_tokens, model, settings, normalize, "", knowledge
                )
                jobs.append(Planned(prompt, mode, job))
        except PromptError as exc:
            log.warning("test line %d left out: %s", prompt.line, exc.message)
            skipped.append(prompt)
            continue
        planned += jobs
    return planned, skipped


async def _answer(
    engine: Engine, model: ServedModel, job: Prompt, loop: asyncio.AbstractEventLoop
) -> tuple[str, str | None, int]:
    """The streamed text, how it ended and its token count."""
    sequence = engine.submit(job.request, loop)
    stats = StreamStats(prompt_tokens=len(job.request.prompt))
    pieces: list[str] = []
    try:
        async for piece in stream_text(sequence, model, job.stops, stats):
            pieces.append(piece)
    except GenerationError as exc:
        log.warning("generation failed: %s", exc)
    return "".join(pieces), stats.finish_reason, stats.completion_tokens


def generate_answers(
    engine: Engine, model: ServedModel, jobs: Sequence[Prompt], progress: Any
) -> list[tuple[str, str | None, int]]:
    """Submit every job at once (continuous batching runs them together); answers in order."""

    async def main() -> list[tuple[str, str | None, int]]:
        loop = asyncio.get_running_loop()

        async def one(job: Prompt) -> tuple[str, str | None, int]:
            result = await _answer(engine, model, job, loop)
            progress.update(1)
            return result

        return list(await asyncio.gather(*(one(job) for job in jobs)))

    return asyncio.run(main())


def _sampling(job: Prompt) -> dict[str, Any]:
    params = dataclasses.asdict(job.request.params)
    plain = (int, float, str, bool, type(None))
    return {k: v for k, v in params.items() if k != "seed" and isinstance(v, plain)}


def merge_results(path: Path, label: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Put `entry` under `label` in the results file, keeping the other labels."""
    data: dict[str, Any] = {"format": RESULTS_FORMAT, "labels": {}}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc.msg}); move it away") from None
        if not isinstance(old, dict) or old.get("format") != RESULTS_FORMAT:
            raise UserError(f"{path}: not a {RESULTS_FORMAT} file; move it away")
        data["labels"] = dict(old.get("labels", {}))
    data["labels"][label] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return data


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def examples_text(config: ChatEvalConfig, scores: Sequence[AnswerScore]) -> str:
    lines = [
        f"Worst {config.examples} answer(s) per category and sampling mode (loops first) of "
        f"the served model {config.served_dir}, {config.max_tokens} new tokens at most.",
        "",
    ]
    for mode in config.modes:
        for s in worst([s for s in scores if s.mode == mode], config.examples):
            flags = ", ".join(s.flags) or "no flag"
            details = f"Persian {_share(s.persian_share)}, {s.words} words, {s.finish}"
            if s.chrf is not None:
                details += f", chrF {s.chrf:.1f}"
            lines += [
                f"## {mode} · {s.prompt.category} · test line {s.prompt.line} · {flags}",
                f"prompt:\n{s.prompt.user}",
                f"reference:\n{s.prompt.reference}",
            ]
            if s.prompt.expected is not None:
                lines.append(f"expected: {s.prompt.expected}")
            lines += [f"model ({details}):\n{s.answer}", ""]
    return "\n".join(lines)


def _knowledge_part(
    config: ChatEvalConfig,
    model: ServedModel,
    settings: ServerSettings,
    engine: Engine,
    retriever: Retriever,
) -> dict[str, Any]:
    """Grounded questions with retrieval on and off and unanswerable ones, on `engine`."""
    from persian_chat.training.knowledge_eval import engine_answerer, knowledge_eval

    with tqdm(desc=f"knowledge eval {config.label}", unit="answer") as bar:
        result = knowledge_eval(
            model,
            settings,
            retriever,
            engine_answerer(engine, model, bar),
            make_normalizer(model),
            config.tables,
            config.eval_sources,
            config.max_tokens,
            config.seed,
        )
    grounded, unanswerable = result["grounded"], result["unanswerable"]
    log.info(
        "knowledge: grounded exact match %s with retrieval, %s without; retrieval recall %s; "
        "unanswerable answered 'I don't know' %s",
        grounded["exact_match_with_retrieval"],
        grounded["exact_match_without_retrieval"],
        grounded["retrieval_recall"],
        unanswerable["dont_know_rate"],
    )
    return result


def run_chat_eval(config: ChatEvalConfig) -> dict[str, Any]:
    """Score the served model on the held-out prompts; returns the label's results entry."""
    from persian_chat.normalize import PersianNormalizer

    started = time.monotonic()
    digests = verify_dataset(config.data_dir)
    prompts = select_prompts(
        load_prompts(config.data_dir / "test.jsonl"),
        config.prompts,
        config.seed,
        config.scored_prompts,
    )
    model = open_served_model(config.served_dir)
    trained_on = (model.manifest.get("dataset_sha256") or {}).get("test.jsonl")
    if trained_on != digests["test.jsonl"]:
        log.warning(
            "%s was exported with another dataset (test.jsonl %s): its training data may "
            "hold some of these prompts",
            config.served_dir,
            trained_on,
        )
    settings = ServerSettings(
        model_dir=config.served_dir, threads=config.threads, max_batch=config.max_batch
    )
    retriever = None
    if config.knowledge is not None:  # as the server serves it: the answers read passages
        retriever = load_retriever(
            config.knowledge,
            settings.knowledge_passages,
            settings.knowledge_tokens,
            settings.knowledge_min_coverage,
        )
    planned, skipped = plan_jobs(prompts, model, settings, config, retriever)
    if not planned:
        raise UserError("no test prompt fits the model's context")
    log.info(
        "chat evaluation of %s (label %s): %d prompts x %d modes, %d threads",
        config.served_dir,
        config.label,
        len(prompts) - len(skipped),
        len(config.modes),
        config.threads,
    )
    try:
        weights = model.weight_file(config.weights, "--chat-weights")
    except ServedModelError as exc:
        raise UserError(str(exc)) from None
    decoder = load_decoder(weights, threads=config.threads)
    # every answer is submitted at once, the knowledge part's ones too: no queue limit
    engine = build_engine(model, decoder, config.max_batch, max_waiting=1 << 20)
    engine.start()
    generating = time.monotonic()
    knowledge: dict[str, Any] | None = None
    try:
        with tqdm(total=len(planned), desc=f"chat eval {config.label}", unit="answer") as bar:
            answers = generate_answers(engine, model, [p.job for p in planned], bar)
        if retriever is not None:
            knowledge = _knowledge_part(config, model, settings, engine, retriever)
    finally:
        engine.shutdown(0)
        engine.join(30)
    generation_s = time.monotonic() - generating
    normalize = PersianNormalizer(model.normalizer or DEFAULT_NORMALIZER).normalize
    scores = [
        score_answer(p.prompt, p.mode, text.strip(), finish, normalize)
        for p, (text, finish, _) in zip(planned, answers, strict=True)
    ]
    modes: dict[str, Any] = {}
    for mode in config.modes:
        first = next(p for p in planned if p.mode == mode)
        modes[mode] = {
            "sampling": _sampling(first.job),
            **summarize([s for s in scores if s.mode == mode]),
        }
        overall = modes[mode]["overall"]
        log.info(
            "%s: loop rate %s, Persian share %s, fact EM %s, sentiment %s",
            mode,
            overall["loop_rate"],
            overall["persian_share"],
            overall["exact_match"],
            overall["sentiment_accuracy"],
        )
    kept = [p for p in prompts if p not in skipped]
    entry: dict[str, Any] = {
        "served_dir": str(config.served_dir),
        "weights": config.weights,
        "served_manifest_sha256": sha256_file(config.served_dir / "manifest.json"),
        "base_model": model.manifest.get("base_model"),
        "precision": model.manifest.get("precision"),
        "dataset": {"test.jsonl": digests["test.jsonl"]},
        "model_exported_with_this_dataset": trained_on == digests["test.jsonl"],
        "evaluated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "prompts": {
            "total": len(kept),
            "left_out_too_long": len(skipped),
            "selection_seed": config.seed,
            "sampling_seeds": f"{config.seed} + prompt index",
            "categories": dict(sorted(Counter(p.category for p in kept).items())),
        },
        "max_tokens": config.max_tokens,
        "threads": config.threads,
        "max_batch": config.max_batch,
        "generated_tokens": sum(n for _, _, n in answers),
        "generation_s": round(generation_s, 1),
        "modes": modes,
    }
    if knowledge is not None:
        entry["knowledge"] = knowledge
    entry["wall_time_s"] = round(time.monotonic() - started, 1)
    merge_results(config.logs_dir / "chat_eval.json", config.label, entry)
    replace_section(
        config.logs_dir / "errors.txt",
        f"chat evaluation, label {config.label}",
        examples_text(config, scores),
    )
    return entry
