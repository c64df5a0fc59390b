"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or an error half-way leaves the previous artifact untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_readable(path: Path) -> None:
    """Give a mkstemp/mkdtemp result the permissions a normal create would have (0600 ->
    0644, 0700 -> 0755 under umask 022), so a service user can read published artifacts."""
    mode = 0o777 if path.is_dir() else 0o666
    path.chmod(mode & ~_umask())


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    make_readable(tmp)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one rename."""
    with _temp_beside(target) as tmp:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)


def atomic_write_text(target: Path, text: str) -> None:
    """Replace `target` with UTF-8 `text` in one rename."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_many(files: Mapping[Path, bytes]) -> None:
    """Write several files so that none is replaced unless all were written out first."""
    with contextlib.ExitStack() as stack:
        staged: list[tuple[Path, Path]] = []
        for target, data in files.items():
            tmp = stack.enter_context(_temp_beside(target))
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((tmp, target))
        for tmp, target in staged:
            tmp.replace(target)


def publish_directory(finished: Path, target: Path) -> None:
    """Replace the directory `target` by `finished` (built beside it) with renames only, so
    readers see either the old or the new directory, never a half-written one."""
    for path in (finished, *finished.iterdir()):
        make_readable(path)
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    finished.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def building_directory(target: Path) -> Iterator[Path]:
    """A fresh directory beside `target` to build into. When the block ends without an error
    it replaces `target` (`publish_directory`); otherwise it is removed and `target` stays as
    it was — a failed run never overwrites a good artifact."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        publish_directory(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
