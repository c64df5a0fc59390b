"""Installed package versions, as every manifest and report records them."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata


def package_version(name: str) -> str | None:
    """The installed version of `name`, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: Iterable[str], missing: str | None = None) -> dict[str, str | None]:
    """Versions by package name; `missing` stands in for packages that are not installed."""
    return {name: package_version(name) or missing for name in names}
