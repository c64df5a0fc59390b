"""Source specifications and the conversion of their rows into chat examples.

A source is named on the command line as `type=qa,path=faq.csv,question=q,answer=a` (or just
`hafez`), or as a [[sources]] table in a TOML config; both are validated by the same models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from persian_chat.chat_format import ChatFormatError, Conversation, validate_conversation
from persian_chat.errors import UserError
from persian_chat.training.data.readers import Row, read_rows
from persian_chat.training.data.records import BadRow, Example

POSITIVE, NEGATIVE, NEUTRAL = "مثبت", "منفی", "خنثی"
DEFAULT_LABEL_MAP: dict[str, str] = {
    **dict.fromkeys(["positive", "pos", "1", "+1", "happy", POSITIVE], POSITIVE),
    **dict.fromkeys(["negative", "neg", "-1", "sad", "angry", NEGATIVE], NEGATIVE),
    **dict.fromkeys(["neutral", "0", "other", NEUTRAL], NEUTRAL),
}
SENTIMENT_PROMPTS = (
    "احساس این متن مثبت است، منفی یا خنثی؟\n«{text}»",
    "لحن این جمله را مشخص کن (مثبت، منفی یا خنثی):\n«{text}»",
    "این نظر چه حسی دارد؟ فقط بگو مثبت، منفی یا خنثی.\n«{text}»",
)


def pick(options: tuple[str, ...], key: str) -> str:
    """Choose one of `options` deterministically from `key` (varied phrasing, stable output)."""
    index = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big")
    return options[index % len(options)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Spec):
    """Column names and label mapping for tabular rows."""

    messages: str = "messages"
    question: str = "question"
    answer: str = "answer"
    text: str = "text"
    label: str = "label"
    label_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABEL_MAP))


class ChatFileSource(Columns):
    """JSONL already in chat format."""

    type: Literal["chat"]
    path: Path


class QAFileSource(Columns):
    """JSONL/CSV/JSON rows with a question and an answer column."""

    type: Literal["qa"]
    path: Path


class SentimentFileSource(Columns):
    """JSONL/CSV/JSON rows with a text and a sentiment label column."""

    type: Literal["sentiment"]
    path: Path


class HFSource(Columns):
    """A Hugging Face dataset by hub id, a local data directory, or a save_to_disk directory."""

    type: Literal["hf"]
    name: str
    config: str | None = None
    split: str = "train"
    format: Literal["chat", "qa", "sentiment"] = "qa"
    revision: str | None = None


class HafezSource(_Spec):
    """The Divan of Hafez from the `hafez` PyPI package (495 ghazals with prose readings)."""

    type: Literal["hafez"]


SourceSpec = Annotated[
    ChatFileSource | QAFileSource | SentimentFileSource | HFSource | HafezSource,
    Field(discriminator="type"),
]
_SPEC_ADAPTER: TypeAdapter[SourceSpec] = TypeAdapter(SourceSpec)


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"] if not str(p).endswith("Source"))
        parts.append(f"{field or 'source'}: {err['msg']}")
    return "; ".join(parts)


def source_from_dict(data: dict[str, Any], where: str) -> SourceSpec:
    try:
        return _SPEC_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise UserError(f"{where}: {describe_validation_error(exc)}") from None


def parse_source_option(option: str) -> SourceSpec:
    """Parse `hafez`, or `type=qa,path=x.csv,question=q,answer=a,label_map=0:منفی|1:مثبت`."""
    if "=" not in option:
        return source_from_dict({"type": option.strip()}, f"--source {option!r}")
    data: dict[str, Any] = {}
    for item in option.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--source {option!r}: expected key=value, got {item!r}")
        key, value = key.strip(), value.strip()
        if key == "label_map":
            pairs = [pair.partition(":") for pair in value.split("|")]
            data[key] = {k.strip(): v.strip() for k, _, v in pairs}
        else:
            data[key] = value
    return source_from_dict(data, f"--source {option!r}")


def describe(spec: SourceSpec) -> str:
    if isinstance(spec, HafezSource):
        return "hafez"
    if isinstance(spec, HFSource):
        return f"hf:{spec.name}[{spec.split}]"
    return f"{spec.type}:{spec.path}"


# --- converting one row -------------------------------------------------------------------


def _text_field(row: dict[str, Any], column: str) -> str:
    if column not in row:
        raise ValueError(f"missing column '{column}'")
    value = row[column]
    # SQuAD-style answers: {"text": ["..."], "answer_start": [..]} or a list of such.
    for _ in range(3):
        if isinstance(value, dict) and "text" in value:
            value = value["text"]
        elif isinstance(value, list | tuple) and value:
            value = value[0]
        else:
            break
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"column '{column}' must be text, got {type(value).__name__}")
    return value


def convert_row(
    row: dict[str, Any], fmt: Literal["chat", "qa", "sentiment"], columns: Columns
) -> Conversation:
    """Turn one row into a conversation; raise ValueError (or ChatFormatError) saying why not."""
    if fmt == "chat":
        if columns.messages not in row:
            raise ValueError(f"missing key '{columns.messages}'")
        return validate_conversation({"messages": row[columns.messages]})
    if fmt == "qa":
        question = _text_field(row, columns.question)
        answer = _text_field(row, columns.answer)
        return {
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }
    text = _text_field(row, columns.text)
    raw_label = _text_field(row, columns.label).strip()
    label = columns.label_map.get(raw_label) or columns.label_map.get(raw_label.lower())
    if label is None:
        known = ", ".join(sorted(columns.label_map))
        raise ValueError(f"unknown label {raw_label!r} (label_map knows: {known})")
    prompt = pick(SENTIMENT_PROMPTS, text).format(text=text.strip())
    return {
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": label},
        ]
    }


def _required_columns(fmt: str, columns: Columns) -> tuple[str, ...]:
    if fmt == "qa":
        return (columns.question, columns.answer)
    if fmt == "sentiment":
        return (columns.text, columns.label)
    return ()


def _convert_rows(
    rows: Iterator[Row | BadRow] | Iterator[tuple[str, dict[str, Any]]],
    fmt: Literal["chat", "qa", "sentiment"],
    columns: Columns,
    origin_prefix: str,
) -> Iterator[Example | BadRow]:
    for item in rows:
        if isinstance(item, BadRow):
            yield item
            continue
        key, row = item
        origin = f"{origin_prefix}:{key}"
        try:
            yield Example(convert_row(row, fmt, columns), origin)
        except (ValueError, ChatFormatError) as exc:
            yield BadRow(origin, str(exc))


# --- loading whole sources ----------------------------------------------------------------


def _load_hf(spec: HFSource) -> tuple[Any, str]:
    """Load a dataset split; turn every failure into one clear sentence."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UserError("Hugging Face sources need `pip install 'persian-chat[data]'`") from exc
    local = Path(spec.name)
    try:
        if (local / "dataset_info.json").is_file() or (local / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(local))
            if isinstance(loaded, datasets.DatasetDict):
                loaded = loaded[spec.split]
            return loaded, f"load_from_disk({spec.name})"
        loaded = datasets.load_dataset(
            spec.name, spec.config, split=spec.split, revision=spec.revision
        )
        return loaded, f"load_dataset({spec.name})"
    except KeyError:
        raise UserError(f"Hugging Face dataset {spec.name!r} has no split {spec.split!r}") from None
    except Exception as exc:
        hint = ""
        if not local.exists():
            hint = (
                " — is the Hugging Face hub reachable from here? Offline, pass a local data "
                "directory or a datasets.save_to_disk() directory as name="
            )
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"could not load Hugging Face dataset {spec.name!r}: {message}{hint}"
        ) from None


def iter_source(spec: SourceSpec) -> tuple[Iterator[Example | BadRow], int | None]:
    """Return the examples of one source and, when cheap to know, how many rows it has."""
    if isinstance(spec, HafezSource):
        from persian_chat.training.data.hafez_corpus import hafez_examples, load_poems

        poems = load_poems()
        return hafez_examples(poems), None
    if isinstance(spec, HFSource):
        dataset, _ = _load_hf(spec)
        rows = ((str(index), dict(row)) for index, row in enumerate(dataset))
        return _convert_rows(rows, spec.format, spec, f"hf:{spec.name}[{spec.split}]"), len(dataset)
    # Paths stay as given (relative to the working directory) so origins in the manifest do
    # not depend on where the repository is checked out.
    rows_or_bad = read_rows(spec.path, _required_columns(spec.type, spec))
    return _convert_rows(rows_or_bad, spec.type, spec, str(spec.path)), None
