"""Build the chat dataset: load sources, remove noise, normalize Persian with hazm, drop
bad/short/long/non-Persian/offensive/duplicate rows, split deterministically into
train.jsonl and test.jsonl, and write SHA256SUMS and manifest.json (atomically).

Sources (repeat --source, or list [[sources]] tables in a TOML --config):
  hafez                                      the Divan of Hafez (PyPI package `hafez`)
  type=chat,path=FILE.jsonl                  JSONL already in chat format
  type=qa,path=FILE,question=COL,answer=COL  .jsonl/.csv/.json question -> answer rows
  type=sentiment,path=FILE,text=COL,label=COL[,label_map=0:منفی|1:مثبت]
                                             text -> «مثبت/منفی/خنثی» conversations
  type=hf,name=ID_OR_DIR,split=train,format=qa|sentiment|chat[,config=..][,COLUMN=..]
                                             a Hugging Face dataset (hub id, local data
                                             directory or a save_to_disk directory)
  type=task,name=facts|translation|sentiment|dates_numbers|arithmetic[,tables=DIR]
                                             conversations generated from the tables in
                                             datasets/sources/tables
A chat path may be a directory: every *.jsonl in it is read. Rows may carry a "domain" tag.
Without --source or --config: hafez + every datasets/sources/conversations/*.jsonl + the
five task generators. Relative paths are relative to the working directory.

Output rows are {"messages", "source", "domain"[, "expected"]}. Tokens are counted with the
Gemma-3-270M tokenizer; --max-share caps a source's share of tokens (default hafez=0.2),
dropping its longest conversations first.
"""

from __future__ import annotations

import argparse
import json
import logging
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tqdm import tqdm

from persian_chat import __version__
from persian_chat.atomic import atomic_write_many
from persian_chat.chat_format import (
    ChatFormatError,
    Conversation,
    Message,
    validate_conversation,
    with_system_prompt,
)
from persian_chat.checksums import format_sha256sums, sha256_bytes, sha256_file
from persian_chat.errors import UserError
from persian_chat.knowledge import DEFAULT_TOKEN_BUDGET, Passage
from persian_chat.logs import configure_logging
from persian_chat.normalize import PersianNormalizer
from persian_chat.retrieval import KnowledgeBase
from persian_chat.settings import DEFAULT_SYSTEM_PROMPT, NormalizerSettings
from persian_chat.training.data.cleaning import (
    Blocklist,
    Thresholds,
    clean_conversation,
    exact_key,
    normalized_key,
    quality_problem,
    remove_noise,
    split_group,
)
from persian_chat.training.data.knowledge import (
    DEFAULT_HANDWRITTEN,
    KNOWLEDGE_FILE,
    build_knowledge,
    knowledge_counts,
    knowledge_jsonl,
)
from persian_chat.training.data.knowledge_files import read_knowledge_file
from persian_chat.training.data.knowledge_questions import (
    DEFAULT_EVAL_SOURCES,
    evaluated_passages,
)
from persian_chat.training.data.mixture import MixRow, over_share, shares, totals
from persian_chat.training.data.records import BadRow, Example
from persian_chat.training.data.sources import (
    DEFAULT_DOMAINS,
    DEFAULT_TABLES,
    TASK_NAMES,
    ChatFileSource,
    HafezSource,
    HFSource,
    SourceSpec,
    TaskSource,
    chat_files,
    describe,
    describe_validation_error,
    iter_source,
    parse_source_option,
)
from persian_chat.training.data.split import GroupUnion, is_test
from persian_chat.training.data.tables import read_table
from persian_chat.training.data.task_facts import COUNTRIES
from persian_chat.training.data.task_reading import (
    COMPUTED_TASKS,
    READING_SOURCE,
    REFUSAL_DOMAIN,
    REFUSAL_EXPECTED,
    Read,
    Reader,
    follow_up,
    takes_conversation,
)
from persian_chat.training.data.tokens import TokenCounter, role_tokens
from persian_chat.versions import package_versions

HELP = "build datasets/train.jsonl and test.jsonl from Persian sources"
log = logging.getLogger("persian_chat.prepare")

DEFAULT_CONVERSATIONS = Path("datasets/sources/conversations")
DEFAULT_BLOCKLIST = Path("datasets/sources/blocklist_fa.txt")
OUTPUT_FILES = ("train.jsonl", "test.jsonl", "manifest.json")
# The order in which rules are applied, and in which the manifest counts them.
DROP_REASONS = (
    "invalid",
    "duplicate_exact",
    "empty",
    "no_text",
    "too_short",
    "too_long",
    "not_persian",
    "offensive",
    "duplicate_normalized",
    "over_share",  # dropped by the --max-share cap, after everything else
)
SAMPLES_PER_REASON = 5
DEFAULT_MAX_SHARE = {"hafez": 0.1}  # verses are not learnable at 270M: see README


def default_sources() -> list[SourceSpec]:
    return [
        HafezSource(type="hafez"),
        ChatFileSource(type="chat", path=DEFAULT_CONVERSATIONS),
        *(TaskSource(type="task", name=name) for name in TASK_NAMES),
    ]


class PrepareConfig(BaseModel):
    """Everything that determines the output; recorded in manifest.json."""

    model_config = ConfigDict(extra="forbid")

    sources: list[SourceSpec] = Field(default_factory=default_sources)
    output_dir: Path = Path("datasets")
    test_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    seed: int = 13
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    min_chars: int = Field(2, ge=1)
    max_chars: int = Field(4000, ge=1)
    min_persian_ratio: float = Field(0.6, ge=0.0, le=1.0)
    blocklist: Path = DEFAULT_BLOCKLIST
    strict: bool = False
    normalizer: NormalizerSettings = NormalizerSettings()
    # the knowledge base (datasets/knowledge/passages.jsonl): tables, conversations, Hafez and
    # the hand-written passages of this folder; off: no knowledge file is written
    knowledge: bool = True
    knowledge_dir: Path = DEFAULT_HANDWRITTEN
    # each kept question-answer or chat file row also becomes a passage (a studio bot's FAQ:
    # retrieved at serve time as well as trained on)
    knowledge_from_sources: bool = False
    # documents whose passages join the knowledge base: .txt/.md split into passages, or a
    # .jsonl of {"title", "text"} rows (a studio bot's own knowledge uploads)
    knowledge_files: list[Path] = Field(default_factory=list)
    # reading rows (training/data/task_reading.py): fact questions and a share of the
    # conversations with passages in front of them, the gold one or only near misses
    reading: bool = True
    # the evaluation's grounded questions: the passages they ask about never appear in a
    # training row (reading is measured on passages the model never read)
    eval_sources: Path = DEFAULT_EVAL_SOURCES
    # source name (as in the manifest: "hafez", "chat:PATH", "task:facts") -> largest share
    # of tokens it may have, in train and in test alike
    max_share: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MAX_SHARE))

    @field_validator("max_share")
    @classmethod
    def _shares_are_fractions(cls, value: dict[str, float]) -> dict[str, float]:
        for source, share in value.items():
            if not 0.0 < share <= 1.0:
                raise ValueError(f"share of {source!r} must be in (0, 1], got {share}")
        return value


@dataclass
class Tally:
    """Counts of rows per outcome, with a few sample origins per drop reason."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, origin: str, detail: str = "") -> None:
        self.counts[reason] += 1
        if len(self.samples[reason]) < SAMPLES_PER_REASON:
            self.samples[reason].append(f"{origin}: {detail}" if detail else origin)

    def ordered(self) -> dict[str, int]:
        keys = ["rows", *DROP_REASONS, "kept"]
        return {key: self.counts[key] for key in keys}


Record = dict[str, Any]


@dataclass
class PrepareResult:
    train: list[Record]
    test: list[Record]
    manifest: dict[str, Any]
    knowledge: list[Passage] = field(default_factory=list)


@dataclass
class _Kept:
    """A conversation that passed cleaning, before the split and the mixture cap."""

    record: Record
    source: int  # index into config.sources
    origin: str
    group: str
    test: bool = False


class _Pipeline:
    """Applies the cleaning rules in order; remembers what it has seen for deduplication."""

    def __init__(self, config: PrepareConfig) -> None:
        self.config = config
        self.normalizer = PersianNormalizer(config.normalizer)
        self.blocklist = Blocklist.from_file(config.blocklist, self.normalizer)
        self.system_prompt = self.normalizer.normalize(config.system_prompt)
        if not self.system_prompt:
            raise UserError("the system prompt is empty after normalization")
        self.limits = Thresholds(config.min_chars, config.max_chars, config.min_persian_ratio)
        self.seen_exact: set[tuple[tuple[str, str], ...]] = set()
        self.seen_normalized: set[str] = set()
        self.seen_questions: set[str] = set()
        # Kept rows that open with a question seen before (another answer, often from another
        # file): not duplicates, but counted; the split keeps them on one side.
        self.repeated_questions: list[str] = []

    def process(self, example: Example, tally: Tally) -> tuple[Conversation, str, str] | None:
        """Return the cleaned conversation, its split group and its opening question, or None
        (counted in tally)."""
        key = exact_key(example.conversation)
        if key in self.seen_exact:
            tally.drop("duplicate_exact", example.origin)
            return None
        self.seen_exact.add(key)
        cleaned = clean_conversation(example.conversation, self.normalizer)
        problem = quality_problem(cleaned, self.limits)
        if problem:
            tally.drop(problem, example.origin)
            return None
        if self.blocklist.offends(cleaned):
            tally.drop("offensive", example.origin)
            return None
        norm_key = normalized_key(cleaned)
        if norm_key in self.seen_normalized:
            tally.drop("duplicate_normalized", example.origin)
            return None
        self.seen_normalized.add(norm_key)
        try:
            final = validate_conversation(with_system_prompt(cleaned, self.system_prompt))
        except ChatFormatError as exc:
            tally.drop("invalid", example.origin, str(exc))
            return None
        tally.counts["kept"] += 1
        question = split_group(final)
        if question in self.seen_questions:
            self.repeated_questions.append(example.origin)
        self.seen_questions.add(question)
        return final, example.group or question, question

    def record(self, example: Example, conversation: Conversation, source: str) -> Record:
        """The output row; `expected` is normalized like the answer it must match."""
        record: Record = {
            "messages": conversation["messages"],
            "source": source,
            "domain": example.domain or DEFAULT_DOMAINS["chat"],
        }
        if example.expected:
            expected = self.normalizer.normalize(remove_noise(example.expected))
            if expected:
                record["expected"] = expected
        return record


def _files_record(paths: list[Path]) -> dict[str, Any]:
    """sha256 of each input file, and one sha256 over the list (as SHA256SUMS would hold it)."""
    files = {str(path): sha256_file(path) for path in paths}
    return {"sha256": sha256_bytes(format_sha256sums(files).encode()), "files": files}


def _source_record(spec: SourceSpec, tally: Tally) -> dict[str, Any]:
    spec_fields = spec.model_dump(mode="json", exclude_defaults=True)
    record: dict[str, Any] = {"source": describe(spec), "spec": {"type": spec.type, **spec_fields}}
    if isinstance(spec, HafezSource):
        from persian_chat.training.data.hafez_corpus import hafez_data_path, hafez_version

        record["version"] = hafez_version()
        record["sha256"] = sha256_file(hafez_data_path())
    elif isinstance(spec, TaskSource):
        from persian_chat.training.data.tasks import task_tables

        tables = task_tables(spec.name, spec.tables)
        if tables:
            record.update(_files_record(tables))
    elif isinstance(spec, ChatFileSource) and spec.path.is_dir():
        record.update(_files_record(chat_files(spec.path)))
    elif not isinstance(spec, HFSource):
        record["sha256"] = sha256_file(spec.path)
    record["counts"] = {k: v for k, v in tally.ordered().items() if v or k in ("rows", "kept")}
    return record


def _read_sources(config: PrepareConfig, pipeline: _Pipeline) -> tuple[list[_Kept], list[Tally]]:
    """Every source through the cleaning rules, then each kept row's side of the split."""
    kept: list[_Kept] = []
    tallies: list[Tally] = []
    groups = GroupUnion()
    for index, spec in enumerate(config.sources):
        name = describe(spec)
        examples, size = iter_source(spec)
        tally = Tally()
        for item in tqdm(examples, total=size, desc=name, unit=" rows", disable=None):
            tally.counts["rows"] += 1
            if isinstance(item, BadRow):
                if config.strict:
                    raise UserError(f"{item.origin}: {item.problem} (--strict)")
                tally.drop("invalid", item.origin, item.problem)
                continue
            processed = pipeline.process(item, tally)
            if processed is not None:
                conversation, group, question = processed
                groups.link(group, question)
                record = pipeline.record(item, conversation, name)
                kept.append(_Kept(record, index, item.origin, group))
        counts = tally.ordered()
        log.info(
            "%s: %d rows, %d kept; dropped %s",
            name,
            counts["rows"],
            counts["kept"],
            ", ".join(f"{k}={v}" for k, v in counts.items() if v and k in DROP_REASONS) or "none",
        )
        for reason, origins in tally.samples.items():
            for origin in origins[:2]:
                log.info("  %s e.g. %s", reason, origin)
        tallies.append(tally)
    for row in kept:
        row.test = is_test(groups.root(row.group), config.test_ratio, config.seed)
    return kept, tallies


def _apply_caps(
    config: PrepareConfig, kept: list[_Kept], mix: list[MixRow], tallies: list[Tally]
) -> list[bool]:
    """Drop rows over the --max-share caps, train and test each on its own; say which stay."""
    stays = [True] * len(kept)
    for side in (False, True):
        indices = [i for i, row in enumerate(kept) if row.test is side]
        for j in sorted(over_share([mix[i] for i in indices], config.max_share)):
            row = kept[indices[j]]
            stays[indices[j]] = False
            tallies[row.source].drop("over_share", row.origin, f"{mix[indices[j]].tokens} tokens")
            tallies[row.source].counts["kept"] -= 1
    for spec, tally in zip(config.sources, tallies, strict=True):
        if tally.counts["over_share"]:
            log.info(
                "%s: %d rows dropped by --max-share", describe(spec), tally.counts["over_share"]
            )
    return stays


def _side(mix: list[MixRow]) -> dict[str, Any]:
    return {
        "rows": len(mix),
        "tokens": sum(row.tokens for row in mix),
        "share": shares(mix),
    }


def prepare(config: PrepareConfig) -> PrepareResult:
    """Run the pipeline in memory; nothing is written (see write_outputs)."""
    from persian_chat.training.data.tokens import gemma_counter

    pipeline = _Pipeline(config)
    kept, tallies = _read_sources(config, pipeline)
    if not any(not row.test for row in kept):
        raise UserError("no training examples are left after cleaning; check the sources")
    counter = gemma_counter()
    knowledge: list[Passage] = []
    if config.knowledge:
        knowledge = build_knowledge(
            DEFAULT_TABLES,
            DEFAULT_CONVERSATIONS,
            config.knowledge_dir,
            pipeline.normalizer.normalize,
        )
    if config.knowledge_from_sources:
        knowledge += _source_passages(config, kept)
    for path in config.knowledge_files:
        knowledge += read_knowledge_file(path, pipeline.normalizer.normalize)
    reading: dict[str, int] = {}
    sources_kept = len(kept)
    if config.reading and knowledge:
        kept, reading = add_reading_rows(config, pipeline, kept, knowledge, counter)
    tokens = counter.count_conversations([row.record["messages"] for row in kept])
    names = [describe(spec) for spec in config.sources]
    mix = [
        MixRow(names[row.source], row.record["domain"], n, row.origin)
        for row, n in zip(kept, tokens, strict=True)
    ]
    stays = _apply_caps(config, kept, mix, tallies)
    sides: dict[Literal["train", "test"], list[int]] = {
        side: [i for i, row in enumerate(kept) if stays[i] and row.test is (side == "test")]
        for side in ("train", "test")
    }
    sources = []
    for index, (spec, tally) in enumerate(zip(config.sources, tallies, strict=True)):
        record = _source_record(spec, tally)
        for side, indices in sides.items():
            own = [mix[i] for i in indices if kept[i].source == index]
            record[side] = {"rows": len(own), "tokens": sum(row.tokens for row in own)}
        sources.append(record)
    total = Tally()
    for tally in tallies:
        total.counts.update(tally.counts)
        for reason, origins in tally.samples.items():
            total.samples[reason].extend(origins[: SAMPLES_PER_REASON - len(total.samples[reason])])
    train = [kept[i].record for i in sides["train"]]
    test = [kept[i].record for i in sides["test"]]
    manifest: dict[str, Any] = {
        "format": "chat-jsonl",
        "generator": f"persian-chat {__version__} prepare",
        "sources": sources,
        "settings": {
            **config.model_dump(mode="json", exclude={"sources", "output_dir"}),
            "system_prompt_normalized": pipeline.system_prompt,
            "blocklist_sha256": sha256_file(config.blocklist),
            "blocklist_entries": len(pipeline.blocklist),
            "split": "sha256(seed, group) < test_ratio; group = poem for hafez, the entity "
            "(country, sentence pair, review, date, problem) for tasks, else the opening "
            "question; groups sharing an opening question are joined (first-seen group)",
        },
        "versions": package_versions(("persian-chat", "hazm", "hafez", "datasets", "jdatetime")),
        # reading_added: reading rows made beside kept ones (fact rows become reading rows
        # in place), so train + test = kept + reading_added
        "counts": {
            **total.ordered(),
            "reading_added": len(kept) - sources_kept,
            "train": len(train),
            "test": len(test),
        },
        "tokens": {
            "tokenizer": counter.description,
            **{side: _side([mix[i] for i in indices]) for side, indices in sides.items()},
            "roles": role_tokens(counter, [kept[i].record for i in sides["train"]]),
        },
        "domains": {
            side: totals((mix[i] for i in indices), lambda row: row.domain)
            for side, indices in sides.items()
        },
        "dropped_examples": {k: total.samples[k] for k in DROP_REASONS if total.samples.get(k)},
        "repeated_questions": {
            "kept": len(pipeline.repeated_questions),
            "examples": pipeline.repeated_questions[:SAMPLES_PER_REASON],
        },
    }
    if reading:
        manifest["reading"] = reading
    if knowledge:
        manifest["knowledge"] = knowledge_counts(knowledge)
        log.info("knowledge base: %d passages", len(knowledge))
    if pipeline.repeated_questions:
        log.info(
            "%d kept conversations open with a question seen before (e.g. %s)",
            len(pipeline.repeated_questions),
            pipeline.repeated_questions[0],
        )
    return PrepareResult(train, test, manifest, knowledge)


def _reading_row(kept: _Kept, read: Read, gold: str, suffix: str) -> _Kept:
    """A reading row on its origin's side of the split; a refusal is scored as one."""
    record: Record = {"messages": read.messages, "source": READING_SOURCE}
    record["domain"] = REFUSAL_DOMAIN if read.refused else kept.record["domain"]
    if read.refused:
        record["expected"] = REFUSAL_EXPECTED
    elif "expected" in kept.record:
        record["expected"] = kept.record["expected"]
    record["passages"] = read.shown
    record["gold"] = gold
    return _Kept(record, kept.source, f"{kept.origin}{suffix}", kept.group, kept.test)


def add_reading_rows(
    config: PrepareConfig,
    pipeline: _Pipeline,
    kept: list[_Kept],
    knowledge: list[Passage],
    counter: TokenCounter,
) -> tuple[list[_Kept], dict[str, int]]:
    """Fact rows turned into reading rows, follow-ups after country questions, a share of
    the conversations that answer like a knowledge passage also as reading rows, and
    calculations with their computed passage (see training/data/task_reading.py). A training
    row never shows a test row's gold passage."""
    base = KnowledgeBase()
    base.add(knowledge)
    reader = Reader(
        {p.id: p for p in knowledge},
        base,
        lambda text: counter.count([text])[0],
        DEFAULT_TOKEN_BUDGET,
    )
    answers = {p.title: p.id for p in knowledge if p.source in ("conversations", "uploads")}
    countries = _country_cells(config, pipeline)

    def gold_of(row: _Kept) -> str | None:
        spec = config.sources[row.source]
        if isinstance(spec, TaskSource) and spec.name in ("facts", "passages"):
            return row.group
        if spec.type not in ("chat", "qa"):
            return None
        messages = row.record["messages"]
        if sum(m["role"] == "user" for m in messages) != 1:
            return None
        return answers.get(next(m["content"] for m in messages if m["role"] == "user"))

    golds = [gold_of(row) for row in kept]
    held_out = frozenset(g for g, row in zip(golds, kept, strict=True) if g and row.test)
    held_out |= evaluated_passages(config.eval_sources)
    out: list[_Kept] = []
    made = Counter[str]()
    for row, gold in tqdm(
        zip(kept, golds, strict=True), total=len(kept), desc="reading rows", disable=None
    ):
        spec = config.sources[row.source]
        hidden = frozenset() if row.test else held_out
        messages = row.record["messages"]
        if isinstance(spec, TaskSource) and spec.name in COMPUTED_TASKS:
            computed = reader.computed_row(messages, row.origin)
            if computed is not None:
                row.record["messages"] = computed.messages
                row.record["passages"] = computed.shown
                made[f"{spec.name}_computed"] += 1
            out.append(row)
            continue
        if gold is None or not (isinstance(spec, TaskSource) or takes_conversation(row.origin)):
            out.append(row)
            continue
        everyday = not isinstance(spec, TaskSource)
        if everyday:
            read = reader.row(messages, gold, row.origin, hidden=hidden, everyday=True)
            out.append(row)  # the conversation stays as it is, too
            if read is not None:
                out.append(_reading_row(row, read, gold, ":reading"))
                made["conversations" if gold in read.shown else "conversations_near"] += 1
            continue
        reads = reader.fact_rows(messages, gold, row.origin, hidden=hidden)
        if not reads:
            out.append(row)
            continue
        out.extend(
            _reading_row(row, r, gold, s) for r, s in zip(reads, ("", ":pair"), strict=False)
        )
        task = spec.name  # facts or passages
        made[f"{task}_refused" if reads[0].refused else task] += 1
        made[f"{task}_paired"] += len(reads) - 1
        cells = countries.get(gold)
        if not cells or not row.origin.endswith(":capital1"):
            continue
        kind = "currency" if cells.get("currency") else "continent"
        if not cells.get(kind):
            continue
        turns: list[Message] = [
            {"role": m["role"], "content": pipeline.normalizer.normalize(m["content"])}
            for m in follow_up(messages, kind, cells, row.origin)
        ]
        query = f"{turns[-4]['content']} {turns[-2]['content']}"
        follows = reader.fact_rows(turns, gold, row.origin + ":followup", query, hidden)
        for read, suffix in zip(follows, (":followup", ":followup:pair"), strict=False):
            follow = _reading_row(row, read, gold, suffix)
            if not read.refused:
                follow.record["expected"] = cells[kind]
            out.append(follow)
            made["follow_ups_refused" if read.refused else "follow_ups"] += 1
    base.close()
    log.info("reading rows: %s", ", ".join(f"{k}={v}" for k, v in sorted(made.items())))
    return out, dict(sorted(made.items()))


def _country_cells(config: PrepareConfig, pipeline: _Pipeline) -> dict[str, dict[str, str]]:
    """The countries table's normalized cells by split group («country:NAME»)."""
    tables = next(
        (s.tables for s in config.sources if isinstance(s, TaskSource) and s.name == "facts"),
        None,
    )
    path = (tables or DEFAULT_TABLES) / COUNTRIES
    if not path.is_file():
        return {}
    rows = read_table(path, ("country",), ("capital", "continent", "currency"))
    normalize = pipeline.normalizer.normalize
    return {
        f"country:{row.cells['country']}": {k: normalize(v) for k, v in row.cells.items()}
        for row in rows
    }


def _source_passages(config: PrepareConfig, kept: list[_Kept]) -> list[Passage]:
    """The first question and answer of each kept row of a qa or chat file source, test
    rows too (a knowledge base holds every fact; the split is for training)."""
    passages = []
    for row in kept:
        if config.sources[row.source].type not in ("qa", "chat"):
            continue
        messages = row.record["messages"]
        question = next(m["content"] for m in messages if m["role"] == "user")
        answer = next(m["content"] for m in messages if m["role"] == "assistant")
        passages.append(
            Passage(
                f"upload:{row.origin}",
                question,
                answer,
                "uploads",
                str(row.record.get("domain") or "uploads"),
            )
        )
    return passages


def _jsonl(records: list[Record]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_outputs(result: PrepareResult, output_dir: Path) -> dict[str, str]:
    """Write train/test JSONL, manifest.json and SHA256SUMS; all or nothing replaced."""
    data = {"train.jsonl": _jsonl(result.train), "test.jsonl": _jsonl(result.test)}
    if result.knowledge:
        data[KNOWLEDGE_FILE] = knowledge_jsonl(result.knowledge)
    manifest = dict(result.manifest)
    manifest["files"] = {
        name: {
            "sha256": sha256_bytes(blob),
            "bytes": len(blob),
            "records": blob.count(b"\n"),
        }
        for name, blob in data.items()
    }
    data["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    digests = {name: sha256_bytes(blob) for name, blob in data.items()}
    files = {output_dir / name: blob for name, blob in data.items()}
    files[output_dir / "SHA256SUMS"] = format_sha256sums(digests).encode()
    atomic_write_many(files)
    return digests


# --- command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        action="append",
        metavar="SPEC",
        help="a source (repeatable): 'hafez' or key=value pairs, see above",
    )
    parser.add_argument(
        "--config", type=Path, help="TOML file with settings and [[sources]] tables"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="where to write the dataset (default: datasets)"
    )
    parser.add_argument("--test-ratio", type=float, help="share of groups for test (default 0.1)")
    parser.add_argument("--seed", type=int, help="seed of the split hash (default 13)")
    parser.add_argument(
        "--system-prompt", help="system turn added to conversations that have none (Persian)"
    )
    parser.add_argument("--min-chars", type=int, help="drop turns shorter than this (default 2)")
    parser.add_argument("--max-chars", type=int, help="drop turns longer than this (default 4000)")
    parser.add_argument(
        "--min-persian-ratio",
        type=float,
        help="drop conversations whose letters are less Persian-script than this (default 0.6)",
    )
    parser.add_argument(
        "--blocklist",
        type=Path,
        help=f"offensive words, one per line (default {DEFAULT_BLOCKLIST})",
    )
    parser.add_argument(
        "--digits",
        choices=["persian", "latin", "keep"],
        help="write all digits as Persian (default) or Latin, or keep them",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="stop at the first bad row instead of skipping and counting it",
    )
    parser.add_argument(
        "--max-share",
        action="append",
        metavar="SOURCE=SHARE",
        help="largest share of tokens SOURCE (named as in the manifest: hafez, task:facts, "
        "chat:PATH) may have in train and in test; its longest conversations go first "
        "(repeatable; default hafez=0.2; SOURCE=1 lifts a cap)",
    )


def _load_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: {exc}") from None


def _share_option(option: str) -> tuple[str, str]:
    source, sep, share = option.rpartition("=")
    if not sep or not source.strip():
        raise UserError(f"--max-share {option!r}: expected SOURCE=SHARE, e.g. hafez=0.35")
    return source.strip(), share.strip()


def config_from_args(args: argparse.Namespace) -> PrepareConfig:
    data: dict[str, Any] = _load_config_file(args.config) if args.config else {}
    where = str(args.config) if args.config else "command line"
    if args.source:
        data["sources"] = [parse_source_option(s).model_dump() for s in args.source]
    for option in (
        "output_dir",
        "test_ratio",
        "seed",
        "system_prompt",
        "min_chars",
        "max_chars",
        "min_persian_ratio",
        "blocklist",
        "strict",
    ):
        value = getattr(args, option)
        if value is not None:
            data[option] = value
    if args.digits:
        data["normalizer"] = {**data.get("normalizer", {}), "digits": args.digits}
    if args.max_share:
        data["max_share"] = {
            **data.get("max_share", DEFAULT_MAX_SHARE),
            **dict(_share_option(option) for option in args.max_share),
        }
    try:
        return PrepareConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{where}: {describe_validation_error(exc)}") from None


def run(args: argparse.Namespace) -> int:
    configure_logging()
    config = config_from_args(args)
    result = prepare(config)
    digests = write_outputs(result, config.output_dir)
    counts = result.manifest["counts"]
    log.info(
        "wrote %s: %d train, %d test conversations (from %d rows)",
        config.output_dir,
        counts["train"],
        counts["test"],
        counts["rows"],
    )
    for name in OUTPUT_FILES:
        log.info("  %s  %s", digests[name], config.output_dir / name)
    return 0
