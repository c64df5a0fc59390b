"""Keep an uploaded file as a dataset: prepare it with `persian-chat prepare` (run as a
process, never copied) and record it with its SHA-256, counts and dropped-row examples.

The upload is staged in a hidden folder and renamed into place only when prepare
succeeded, so a refused file leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from persian_chat.studio.settings import StudioSettings
from persian_chat.studio.store import DatasetRow, Store
from persian_chat.studio.uploads import UploadError

BLOCKLIST = Path("datasets/sources/blocklist_fa.txt")
PREPARE_TIMEOUT_S = 1800
KNOWLEDGE_DIR = "knowledge"  # a dataset's knowledge documents: knowledge/N/NAME


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for strings)."""
    return json.dumps(value, ensure_ascii=False)


def prepare_config(
    settings: StudioSettings,
    source: Path,
    mapping: dict[str, str],
    output_dir: Path,
    system_prompt: str | None = None,
    extra_sources: tuple[dict[str, str], ...] = (),
    knowledge_files: Sequence[Path] = (),
) -> str:
    """prepare's TOML config: the uploaded source (plus a template's extra sources), its
    rows and the knowledge documents uploaded with it as the bot's knowledge base."""
    documents = ", ".join(toml_string(str(path)) for path in knowledge_files)
    lines = [
        f"output_dir = {toml_string(str(output_dir))}",
        f"blocklist = {toml_string(str(settings.repo / BLOCKLIST))}",
        "knowledge = false",
        "knowledge_from_sources = true",
        f"knowledge_files = [{documents}]",
    ]
    if system_prompt:
        lines.append(f"system_prompt = {toml_string(system_prompt)}")
    lines += ["", "[[sources]]", f"path = {toml_string(str(source))}"]
    if mapping["format"] == "chat":
        lines.append('type = "chat"')
    else:
        lines += [
            'type = "qa"',
            f"question = {toml_string(mapping['question'])}",
            f"answer = {toml_string(mapping['answer'])}",
        ]
    for extra in extra_sources:
        lines += ["", "[[sources]]"]
        lines += [f"{key} = {toml_string(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def run_prepare(settings: StudioSettings, config: Path) -> None:
    """`persian-chat prepare --config FILE`; UploadError with prepare's own message."""
    command = [sys.executable, "-m", "persian_chat.cli", "prepare", "--config", str(config)]
    done = subprocess.run(
        command,
        cwd=settings.repo,
        capture_output=True,
        text=True,
        timeout=PREPARE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise UploadError(f"آماده‌سازی داده ناموفق بود: {lines[-1] if lines else 'بی‌پیام'}")


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the studio shows of prepare's manifest: per-step counts and dropped examples."""
    return {
        "counts": manifest.get("counts", {}),
        "dropped_examples": manifest.get("dropped_examples", {}),
        "train_tokens": manifest.get("tokens", {}).get("train", {}).get("tokens", 0),
        "knowledge": manifest.get("knowledge", {}).get("passages", 0),
    }


def knowledge_documents(dataset_dir: Path) -> list[Path]:
    """The knowledge documents kept with a dataset, in upload order."""
    return sorted(dataset_dir.glob(f"{KNOWLEDGE_DIR}/*/*"), key=lambda p: int(p.parent.name))


def _document_name(name: str) -> str:
    base = Path(name).name
    return base if base and not base.startswith(".") else f"knowledge{Path(name).suffix}"


def add_dataset(
    settings: StudioSettings,
    store: Store,
    name: str,
    data: bytes,
    mapping: dict[str, str],
    knowledge: Sequence[tuple[str, bytes]] = (),
) -> DatasetRow:
    """Prepare and keep an upload with its knowledge documents; the same files with the same
    mapping are reused."""
    digest = hashlib.sha256(data)
    for document_name, document in knowledge:
        digest.update(b"\0" + _document_name(document_name).encode() + b"\0" + document)
    digest_hex = digest.hexdigest()
    known = store.find_dataset(digest_hex, mapping)
    if known is not None:
        return known
    root = settings.home / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        source = staging / f"source{Path(name).suffix.lower()}"
        source.write_bytes(data)
        documents = []
        for number, (document_name, document) in enumerate(knowledge, start=1):
            path = staging / KNOWLEDGE_DIR / str(number) / _document_name(document_name)
            path.parent.mkdir(parents=True)
            path.write_bytes(document)
            documents.append(path)
        config = staging / "prepare.toml"
        config.write_text(
            prepare_config(
                settings, source, mapping, staging / "prepared", knowledge_files=documents
            ),
            encoding="utf-8",
        )
        try:
            run_prepare(settings, config)
        except UploadError as exc:  # prepare names its input: say the upload's name instead
            message = exc.message.replace(str(source), name)
            for path in documents:
                message = message.replace(str(path), path.name)
            raise UploadError(message) from None
        manifest = json.loads((staging / "prepared" / "manifest.json").read_text("utf-8"))
        target = root / digest_hex[:16]
        if target.exists():  # same file, another mapping
            target = Path(tempfile.mkdtemp(prefix=f"{digest_hex[:16]}-", dir=root))
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    row_id = store.add_dataset(
        {
            "sha256": digest_hex,
            "name": name,
            "mapping": mapping,
            "directory": str(target),
            "counts": summary(manifest),
        }
    )
    row = store.dataset(row_id)
    assert row is not None
    return row
