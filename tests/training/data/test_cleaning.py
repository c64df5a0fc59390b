from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.chat_format import Conversation
from persian_chat.normalize import PersianNormalizer
from persian_chat.training.data.cleaning import (
    Blocklist,
    Thresholds,
    clean_conversation,
    exact_key,
    normalized_key,
    persian_ratio,
    quality_problem,
    remove_noise,
    split_group,
)


def pair(user: str, assistant: str) -> Conversation:
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ببین https://example.com/a?b=1 را", "ببین   را"),
        ("سایت www.example.ir عالی است", "سایت   عالی است"),
        ("@ali_reza سلام", "  سلام"),
        ("ایمیل من a.b@example.com است", "ایمیل من   است"),
        ("#هوای_پاک مهم است", "هوای پاک مهم است"),
        ("نان &amp; پنیر &lt;3", "نان & پنیر <3"),
        ("سلام\u200f\u202aدنیا", "سلامدنیا"),
    ],
)
def test_remove_noise(raw: str, expected: str) -> None:
    assert remove_noise(raw) == expected


def test_clean_conversation_normalizes_every_turn(normalizer: PersianNormalizer) -> None:
    cleaned = clean_conversation(pair("كتاب ها را ديدي؟ https://x.ir", "بله 2 تا"), normalizer)
    assert cleaned == pair("کتاب\u200cها را دیدی؟", "بله ۲ تا")


@pytest.mark.parametrize(
    ("conversation", "reason"),
    [
        (pair("", "پاسخ"), "empty"),
        (pair("😀😀😀", "خندهٔ خوبی بود"), "no_text"),
        (pair("!!!", "چه شده؟"), "no_text"),
        (pair("آ", "بله"), "too_short"),
        (pair("سلام", "خ" * 50), "too_long"),
        (pair("How are you today my friend?", "I am fine, thanks"), "not_persian"),
        (pair("سلام، خوبی؟", "ممنون، خوبم."), None),
        (pair("«Python» چیست؟", "یک زبان برنامه‌نویسی محبوب و ساده است."), None),
    ],
)
def test_quality_rules(conversation: Conversation, reason: str | None) -> None:
    limits = Thresholds(min_chars=2, max_chars=40, min_persian_ratio=0.6)
    assert quality_problem(conversation, limits) == reason


def test_system_turn_is_not_judged() -> None:
    conversation: Conversation = {
        "messages": [
            {"role": "system", "content": "You are an English system prompt, quite long."},
            {"role": "user", "content": "سلام"},
            {"role": "assistant", "content": "درود"},
        ]
    }
    assert quality_problem(conversation, Thresholds()) is None


def test_persian_ratio() -> None:
    assert persian_ratio("سلام") == 1.0
    assert persian_ratio("abc") == 0.0
    assert persian_ratio("۱۲۳ !") == 1.0  # no letters at all
    assert persian_ratio("سلام ab") == pytest.approx(4 / 6)


@pytest.fixture(scope="module")
def blocklist(normalizer: PersianNormalizer) -> Blocklist:
    return Blocklist(["احمق", "خفه شو"], normalizer)


@pytest.mark.parametrize(
    ("text", "offends"),
    [
        ("تو احمق هستی", True),
        ("احمق‌ها همه جا هستند", True),  # inflected with ZWNJ
        ("احمق ها", True),  # typed with a space: normalized to ZWNJ, then matched
        ("حماقت نکن", False),  # different word sharing letters
        ("ساکت باش و خفه شو", True),  # phrase
        ("خفه شدن در آب خطرناک است", False),  # phrase words apart / different
        ("این کتاب عالی است", False),
    ],
)
def test_blocklist_matches_whole_words_after_normalization(
    blocklist: Blocklist, normalizer: PersianNormalizer, text: str, offends: bool
) -> None:
    assert blocklist.matches(normalizer.normalize(text)) is offends


def test_shipped_blocklist_spares_innocent_words(repo: Path, normalizer: PersianNormalizer) -> None:
    shipped = Blocklist.from_file(repo / "datasets/sources/blocklist_fa.txt", normalizer)
    assert len(shipped) > 30
    for innocent in ("هیچ‌کس نیامد", "کسی آنجا بود", "حالیا رفتیم و تخمی کاشتیم", "کون و مکان"):
        assert not shipped.matches(normalizer.normalize(innocent)), innocent
    assert shipped.matches(normalizer.normalize("برو گمشو"))


def test_missing_blocklist_names_the_file(tmp_path: Path, normalizer: PersianNormalizer) -> None:
    with pytest.raises(Exception, match="blocklist file not found"):
        Blocklist.from_file(tmp_path / "nope.txt", normalizer)


def test_duplicate_keys() -> None:
    a = pair("سلام، خوبی؟", "ممنون!")
    b = pair("سلام خوبی", "ممنون")
    assert exact_key(a) != exact_key(b)
    assert normalized_key(a) == normalized_key(b)
    assert split_group(a) == split_group(b)
    longer = {"messages": [*a["messages"], *pair("و فردا؟", "فردا هم خوبم.")["messages"]]}
    assert split_group(longer) == split_group(b)  # same opening question, same side
    assert normalized_key(a) != normalized_key(pair("سلام خوبی", "نه"))
