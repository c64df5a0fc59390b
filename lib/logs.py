"""Plain-text logging for the CLI: our own INFO lines, only warnings from libraries."""

from __future__ import annotations

import logging


def configure_logging(level: int = logging.INFO) -> None:
    """Log `persian_chat.*` at `level` to stderr; keep chatty libraries (gensim via hazm) quiet."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("persian_chat").setLevel(level)
