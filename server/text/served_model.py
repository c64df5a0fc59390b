"""Open a served model directory, refusing one whose files do not match its manifest.

Everything the server needs besides the ONNX graph comes from here: the tokenizer, the chat
template, the BOS text and stop ids, and — recorded at data-preparation time — the Persian
normalizer settings and system prompt, so serving treats text exactly as training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from persian_chat.checksums import sha256_file
from persian_chat.server.engine.utf8_guard import token_bytes
from persian_chat.settings import NormalizerSettings

SERVED_FORMAT = "persian-chat-served/1"
INT4_FILE = "model.int4.onnx"  # an int4 graph served beside model.onnx (export --int4)


class ServedModelError(ValueError):
    """The directory is not a valid served model; the message names the file."""


@dataclass(frozen=True)
class ServedModel:
    path: Path
    manifest: dict[str, Any]
    tokenizer: Tokenizer
    chat_template: str
    bos_token: str
    stop_ids: frozenset[int]
    system_prompt: str | None
    normalizer: NormalizerSettings | None
    context_length: int  # positions the model was built for (prompt + reply)

    @property
    def model_id(self) -> str:
        return self.path.name

    @cached_property
    def grammar_tokenizer(self) -> Any:
        """llguidance's view of the tokenizer, for structured output (built on first use)."""
        from persian_chat.server.engine.grammar import grammar_tokenizer

        return grammar_tokenizer(self.tokenizer.to_str(), self.stop_ids)

    @cached_property
    def byte_table(self) -> list[bytes] | None:
        """`token_bytes` of the tokenizer, computed once for the UTF-8 guard and logprobs;
        None for a byte scheme the guard does not know."""
        return token_bytes(self.tokenizer)

    @cached_property
    def vocabulary_bytes(self) -> list[bytes]:
        """The bytes each token id stands for (log-probabilities report them): a
        byte-fallback token is its one byte, not a replacement character."""
        table = self.byte_table
        if table is None:
            size = self.tokenizer.get_vocab_size()
            table = [
                self.tokenizer.decode([i], skip_special_tokens=False).encode() for i in range(size)
            ]
        return table

    @property
    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    @property
    def weight_files(self) -> dict[str, Path]:
        """The graph of each weight format the directory carries ({"int8": model.onnx,
        "int4": model.int4.onnx}); a directory that records none has its one graph under
        its precision."""
        formats = self.manifest.get("weights")
        if not isinstance(formats, dict) or not formats:
            return {str(self.manifest.get("precision") or "int8"): self.onnx_path}
        listed = self.manifest.get("files") or {}
        files = {}
        for name, entry in formats.items():
            file = str(entry.get("file", "")) if isinstance(entry, dict) else ""
            if file not in listed or Path(file).name != file:  # checked by verify_files
                raise ServedModelError(
                    f"{self.path / 'manifest.json'}: weights {name!r} names {file!r}, "
                    "not one of the directory's listed files"
                )
            files[str(name)] = self.path / file
        return files

    def weight_file(self, name: str, option: str) -> Path:
        """The graph of weight format `name`; a format the directory lacks is refused
        naming `option` (the flag that asked for it) and the formats it carries."""
        files = self.weight_files
        if name not in files:
            raise ServedModelError(
                f"{option} {name}: {self.path} carries {', '.join(sorted(files))}"
            )
        return files[name]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServedModelError(f"{path}: missing") from None
    except json.JSONDecodeError as exc:
        raise ServedModelError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ServedModelError(f"{path}: expected a JSON object")
    return data


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Every listed file exists with its sha256, and nothing unlisted sits beside them."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ServedModelError(f"{path / 'manifest.json'}: lists no files")
    for name, digest in sorted(files.items()):
        file = path / name
        if not file.is_file():
            raise ServedModelError(f"{file}: listed in manifest.json but missing")
        actual = sha256_file(file)
        if actual != digest:
            raise ServedModelError(
                f"{file}: sha256 {actual} does not match manifest.json ({digest})"
            )
    extra = sorted(
        p.name for p in path.iterdir() if p.name not in files and p.name != "manifest.json"
    )
    if extra:
        raise ServedModelError(f"{path}: files not in manifest.json: {', '.join(extra)}")


def _stop_ids(path: Path, tokenizer: Tokenizer) -> frozenset[int]:
    generation = _read_json(path / "generation_config.json")
    eos = generation.get("eos_token_id")
    ids = {eos} if isinstance(eos, int) else set(eos or [])
    end_of_turn = tokenizer.token_to_id("<end_of_turn>")
    if end_of_turn is not None:
        ids.add(end_of_turn)
    if not ids:
        raise ServedModelError(f"{path / 'generation_config.json'}: no eos_token_id")
    return frozenset(int(i) for i in ids)


def load_served_model(path: Path, verify: bool = True) -> ServedModel:
    if not path.is_dir():
        raise ServedModelError(f"{path}: not a directory (run `persian-chat export`)")
    manifest = _read_json(path / "manifest.json")
    found = manifest.get("format")
    if found != SERVED_FORMAT:
        raise ServedModelError(
            f"{path / 'manifest.json'}: format {found!r}, expected {SERVED_FORMAT!r}"
        )
    if verify:
        verify_files(path, manifest)
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    template_path = path / "chat_template.jinja"
    if not template_path.is_file():
        raise ServedModelError(f"{template_path}: missing")
    bos = _read_json(path / "tokenizer_config.json").get("bos_token")
    if isinstance(bos, dict):  # serialized AddedToken
        bos = bos.get("content")
    if not isinstance(bos, str):
        raise ServedModelError(f"{path / 'tokenizer_config.json'}: no bos_token")
    normalizer = manifest.get("normalizer")
    config = _read_json(path / "config.json")
    graph_context = (manifest.get("onnx") or {}).get("context_length")  # rotary tables' size
    context = graph_context or config.get("max_position_embeddings") or config.get("n_positions")
    if not isinstance(context, int) or context < 2:
        raise ServedModelError(f"{path / 'config.json'}: no max_position_embeddings")
    return ServedModel(
        path=path,
        manifest=manifest,
        tokenizer=tokenizer,
        chat_template=template_path.read_text(encoding="utf-8"),
        bos_token=bos,
        stop_ids=_stop_ids(path, tokenizer),
        system_prompt=manifest.get("system_prompt"),
        normalizer=NormalizerSettings.model_validate(normalizer) if normalizer else None,
        context_length=context,
    )
