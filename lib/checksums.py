"""SHA-256 helpers: artifact checksums in `sha256sum` format, verifiable with `sha256sum -c`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def format_sha256sums(digests: Mapping[str, str]) -> str:
    """Lines of `<hex>  <name>` sorted by name, as `sha256sum` writes them."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))


def parse_sha256sums(text: str) -> dict[str, str]:
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"SHA256SUMS line {number}: not '<sha256>  <file>': {line!r}")
        digests[name.lstrip("*")] = digest
    return digests


def verify_sha256sums(directory: Path, names: Iterable[str] | None = None) -> None:
    """Raise ValueError naming the first file whose checksum differs from SHA256SUMS."""
    expected = parse_sha256sums((directory / "SHA256SUMS").read_text(encoding="utf-8"))
    for name in names if names is not None else sorted(expected):
        if name not in expected:
            raise ValueError(f"{directory / 'SHA256SUMS'} lists no checksum for {name}")
        actual = sha256_file(directory / name)
        if actual != expected[name]:
            raise ValueError(
                f"{directory / name}: sha256 {actual} does not match SHA256SUMS ({expected[name]})"
            )
