"""hazm's own Normalizer class, loaded without the rest of hazm and without nltk.

`import hazm` runs hazm's package `__init__`, which imports every tool it has (POS tagger,
chunker, parsers, corpus readers, embeddings) and with them nltk: measured, 206 MiB of RSS
before a single word is normalized, 187 MiB of it nltk's import. The normalizer needs four of
hazm's modules (utils, stemmer, word_tokenizer, lemmatizer) and, from nltk, only the two
abstract interfaces its tokenizer and stemmer subclass. So those modules are imported under a
stand-in `hazm` package, with stand-in `nltk` interfaces, and every stand-in is taken out of
`sys.modules` again afterwards: a later `import hazm` or `import nltk` gets the real ones.

The code that normalizes is hazm's, unchanged, with hazm's lexicons, so the output is the
same: tests/lib/test_hazm_normalizer.py compares both on the whole dataset and on noisy text.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}
_MODULES = (
    ("hazm.stemmer", ("Stemmer",)),
    ("hazm.word_tokenizer", ("WordTokenizer",)),
    ("hazm.lemmatizer", ("Lemmatizer", "Conjugation")),
)


class TokenizerI:
    """Stands in for nltk.tokenize.api.TokenizerI, which hazm's WordTokenizer subclasses."""


class StemmerI:
    """Stands in for nltk.stem.api.StemmerI, which hazm's Stemmer subclasses."""


def _ours(name: str) -> bool:
    return name.split(".")[0] in ("hazm", "nltk")


def normalizer_class() -> Any:
    """hazm.normalizer.Normalizer (hazm 0.10.0), loaded once."""
    with _LOCK:
        if "Normalizer" in _LOADED:
            return _LOADED["Normalizer"]
        spec = importlib.util.find_spec("hazm")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("hazm is not installed", name="hazm")
        saved = {name: module for name, module in sys.modules.items() if _ours(name)}
        for name in saved:
            del sys.modules[name]
        package = types.ModuleType("hazm")
        package.__path__ = list(spec.submodule_search_locations)
        stand_ins = {"hazm": package}
        interfaces: dict[str, dict[str, Any]] = {
            "nltk": {},
            "nltk.tokenize": {},
            "nltk.tokenize.api": {"TokenizerI": TokenizerI},
            "nltk.stem": {},
            "nltk.stem.api": {"StemmerI": StemmerI},
        }
        for name, attributes in interfaces.items():
            module = types.ModuleType(name)
            module.__path__ = []
            module.__dict__.update(attributes)
            stand_ins[name] = module
        sys.modules.update(stand_ins)
        try:
            utils = importlib.import_module("hazm.utils")
            package.__dict__.update({k: v for k, v in vars(utils).items() if not k.startswith("_")})
            for module_name, names in _MODULES:
                module = importlib.import_module(module_name)
                package.__dict__.update({name: getattr(module, name) for name in names})
            _LOADED["Normalizer"] = importlib.import_module("hazm.normalizer").Normalizer
        finally:
            for name in [name for name in sys.modules if _ours(name)]:
                del sys.modules[name]
            sys.modules.update(saved)
        return _LOADED["Normalizer"]
