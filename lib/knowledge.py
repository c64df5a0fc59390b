"""Knowledge passages and the one way they enter a prompt, shared by training, evaluation and
serving (a model trained to read passages must see them exactly as the server shows them).

A passage is a short text with an id, a title, a source and a domain. Retrieved passages go
into the last user turn, before the question, in `passages_block`'s layout: the system
prompt stays the conversation's first turn, so the server's stored system prefix is reused
with or without passages. `fold_words` is the text normalization of retrieval, one function
for passages and queries (Persian and Arabic letter forms, digits, ZWNJ, diacritics folded),
and `reductions` strips a query word's suffixes down to words the passages use, so
«پایتختش» finds «پایتخت».
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from persian_chat.chat_format import Message

PASSAGES_HEADING = (
    "متن‌های زیر را بخوان و فقط از روی آن‌ها پاسخ بده؛ اگر پاسخ در آن‌ها نیست، بگو که نمی‌دانی."
)
QUESTION_HEADING = "پرسش:"
DEFAULT_PASSAGES = 3  # passages in front of a question at most (serve --knowledge-passages)
# prompt tokens the passages may take at most: a median passage is ~120 tokens, so three fit
DEFAULT_TOKEN_BUDGET = 384
SERVED_KNOWLEDGE = "knowledge.jsonl"  # a served model's own knowledge base, beside model.onnx


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str
    source: str  # where it comes from: "countries", "conversations", "hafez", "handwritten", …
    domain: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Passage:
        return cls(*(str(row[name]) for name in ("id", "title", "text", "source", "domain")))


def passages_block(passages: Sequence[Passage]) -> str:
    """The passages as the model reads them: a heading, then each numbered with its title."""
    parts = [PASSAGES_HEADING]
    for number, passage in enumerate(passages, start=1):
        parts.append(f"[{number}] {passage.title}\n{passage.text}")
    return "\n\n".join(parts)


def with_passages(messages: Sequence[Message], passages: Sequence[Passage]) -> list[Message]:
    """`messages` with the passages put in front of the last user turn (unchanged without
    passages). Earlier turns are left as they were, so a cached conversation still matches."""
    out = [dict(m) for m in messages]
    if not passages:
        return out  # type: ignore[return-value]
    last = max(i for i, m in enumerate(out) if m["role"] == "user")
    question = out[last]["content"]
    out[last]["content"] = f"{passages_block(passages)}\n\n{QUESTION_HEADING} {question}"
    return out  # type: ignore[return-value]


# -- retrieval's text normalization ------------------------------------------------------

_FOLD = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ؤ": "و",
        "ئ": "ی",
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        "\u200c": "",  # ZWNJ: «می‌خواهم» and «میخواهم» are one word
        "\u0640": "",  # kashida
    }
)
_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")  # vowel marks, hamza above, …
_WORD = re.compile(r"\w+")
# words too common to tell passages apart: dropped from queries and indexed text alike
_STOPWORDS = """و در به از که را این آن با برای است بود هست نیست شد شود می نمی هم یا تا اما اگر چه
    چی چیه کجا کجاست کدام چند چطور چگونه آیا یک ها های ای ام ات اش مان تان شان من تو او
    ما شما ایشان آنها اینها خود هر همه بر پس نه بله دیگر باید کند کنم کنید کرد کرده
    میشه میشود بگو بگید لطفا لطفاً خب ولی روی زیر پیش بعد قبل چون وقتی هستند بودن
    رو یه کدوم چنده چقدر چندتا داره دارن دارم داریم باشه باشد بهتره هست هستش تو اون اینو
    اونو یعنی کی کیه میکشه میخوام میخواهم لطف دونی میدونی بدونم بدونید بگی بگین
    اگه واسه بخوام بخواهم بخوای میخوای چطوری چجوری هستن نیستن اینا اونا دیگه خیلی ازش بهش
    باهاش براش
    """


STOPWORDS = frozenset(w.translate(_FOLD) for w in _STOPWORDS.split())


# suffixes a query word may carry that the passage's word does not, folded (no ZWNJ), tried
# longest first: plural, possessive and comparative ones (all a passage word may lose), then
# adjective, verb person and the colloquial ones («ه» for «است», «شون» for «شان»)
_NOUN_SUFFIXES = "هایشان هایمان هایتان هایش هایم هایت های ها ترین تر شان مان تان ش م ت ی"
_OTHER_SUFFIXES = "هایشون شون تون مون یش ای ان ه ن د ند یم ید"


def _longest_first(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(words), key=lambda w: (-len(w), w)))


NOUN_SUFFIXES = _longest_first(_NOUN_SUFFIXES.split())
SUFFIXES = _longest_first([*_NOUN_SUFFIXES.split(), *_OTHER_SUFFIXES.split()])
PREFIXES = ("نمی", "می", "ب", "ن")  # verb prefixes: «بخوابد», «میرسد» → «خواب», «رسد»
# colloquial spellings and their written forms: «دندون» → «دندان», «بخوابه» → «بخوابد»,
# «میریزن» → «میریزند»
COLLOQUIAL = (("ون", "ان"), ("ه", "د"), ("ن", "ند"))
MIN_STEM = 3
MAX_STEPS = 3


def fold_words(text: str) -> list[str]:
    """Words as retrieval compares them: letter forms and digits folded, ZWNJ, kashida and
    vowel marks dropped, lower case, stopwords out."""
    folded = _MARKS.sub("", text.translate(_FOLD)).lower()
    return [w for w in _WORD.findall(folded) if w not in STOPWORDS]


def _rewrites(word: str) -> Iterator[str]:
    """One step away from `word`: a suffix or verb prefix off, or a colloquial form written."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            yield word[: -len(suffix)]
    for prefix in PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            yield word[len(prefix) :]
    for spoken, written in COLLOQUIAL:
        if spoken == "ون" and spoken in word[1:]:
            at = word.index(spoken, 1)
            yield word[:at] + written + word[at + len(spoken) :]
        elif spoken != "ون" and word.endswith(spoken):
            yield word[: -len(spoken)] + written


def reductions(word: str, vocabulary: Container[str]) -> list[str]:
    """The passage words `word` stands for. A word the passages use stands for itself and its
    stem under a plural or possessive suffix («کتابها» → «کتاب»). Any other word stands for
    the nearest passage words, up to three steps away (suffixes and verb prefixes stripped,
    colloquial spellings written out: «پایتختشون» → «پایتخت», «ژاپنیها» → «ژاپن»,
    «بخوابه» → «بخوابد» → «خوابد» → «خواب»). A vocabulary-checked search, not a stemmer:
    «ایران» never becomes «ایر»."""
    if word in vocabulary:
        stems = [word[: -len(s)] for s in NOUN_SUFFIXES if word.endswith(s)]
        return [word, *(w for w in stems if len(w) >= MIN_STEM and w in vocabulary)][:2]
    seen, frontier = {word}, [word]
    for _ in range(MAX_STEPS):
        step = [
            new
            for form in frontier
            for new in _rewrites(form)
            if new not in seen and new not in STOPWORDS
        ]
        seen.update(step)
        found = [w for w in dict.fromkeys(step) if w in vocabulary]
        if found:
            return found
        frontier = step
    return []
