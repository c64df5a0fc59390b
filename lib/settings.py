"""Settings shared by several stages.

The normalizer settings and the system prompt travel with the data (datasets/manifest.json)
and later with the model, so training and serving treat text the same way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# 7 tokens: the same system turn opens every training conversation, so its tokens are
# computed in every row and teach nothing (the 46-token prompt before it was 34% of the
# tokens of train.jsonl). What it used to ask («if you do not know, say so») is the passages'
# heading now, where it applies (persian_chat.knowledge.PASSAGES_HEADING).
DEFAULT_SYSTEM_PROMPT = "دستیار فارسی هستی."


class NormalizerSettings(BaseModel):
    """How Persian text is normalized; the same values must be used at train and serve time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Digits: Latin and Arabic-Indic digits become Persian (۰-۹), or Latin (0-9), or stay.
    digits: Literal["persian", "latin", "keep"] = "persian"
    # hazm.Normalizer switches (hazm 0.10.0). hazm's own digit and quote styling is replaced by
    # `digits` above: its regexes put spaces inside decimals ("3.5" -> "۳ ٫ ۵").
    correct_spacing: bool = True
    remove_diacritics: bool = True
    remove_specials_chars: bool = True
    decrease_repeated_chars: bool = True
    unicodes_replacement: bool = True
    seperate_mi: bool = True


DEFAULT_NORMALIZER = NormalizerSettings()
