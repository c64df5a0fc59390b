"""Reading rows: questions with passages in front of them, exactly as the server shows them
(persian_chat.knowledge.with_passages), so the model learns to answer from what it reads.

As in RAFT, most rows carry the passage that holds the answer among the retriever's own near
misses for the same question (distractors); a share of the rows carry the near misses only,
and their target is a polite "I don't know", never the answer from memory (that would teach
guessing). A question that refuses is also asked once more with its passage shown and
answered (a pair): the model learns that the passage, not the question, decides between the
answer and «نمی‌دانم» (trained with refusals alone, the previous model refused questions
whose passage was in front of it). Sources of rows:
  - every fact question of the tables (capital, continent, currency, provincial centre): it
    becomes a reading row (the bare question would teach recalling facts a 270M model cannot
    hold); its gold passage is the entity's passage;
  - a follow-up turn for countries with two facts («و پول رایجش چیه؟»), searched as the
    server searches a follow-up (the previous question and this one together);
  - a share of the hand-written conversations whose answer is a knowledge passage, with that
    passage among near misses (the original conversation stays too); in half of them the
    near misses only, and the conversation's own answer still the target: the server puts
    near-miss conversations in front of nearly every everyday message, and a greeting, a
    request for advice or a sad user must get an answer, not «نمی‌دانم» (the previous run,
    trained to refuse those, refused small talk);
  - arithmetic and calendar questions with the computed passage the server puts first (and,
    in half of them, the retriever's hits after it, as the server adds them): the model
    copies the result it reads, as it copies a currency.
A row stays on its origin's side of the split, so reading is measured on entities the model
never read about in training. Choices are hashed from the row's origin: same bytes every run.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

from persian_chat.chat_format import Message
from persian_chat.computed_passages import computed_passages
from persian_chat.knowledge import DEFAULT_PASSAGES, Passage, passages_block, with_passages
from persian_chat.retrieval import DEFAULT_MIN_COVERAGE, ScoredSearch
from persian_chat.training.data.phrasing import bucket, pick

MAX_PASSAGES = DEFAULT_PASSAGES  # as many as the server shows
READING_SOURCE = "reading"  # the rows' source in train.jsonl and the token accounting
REFUSAL_DOMAIN = "reading_refusal"  # rows that must refuse: their own evaluation category
REFUSAL_PERCENT = 25  # fact rows whose passages are near misses only (they refuse)
CONVERSATION_PERCENT = 50  # hand-written conversations that also become reading rows
WITHOUT_GOLD_PERCENT = 50  # of those, near misses only, still answered
CANDIDATES = 8  # near misses looked at per question
COMPUTED_TASKS = ("arithmetic", "dates_numbers")  # questions the server computes a passage for

REFUSALS = (
    "در متن‌هایی که دارم پاسخ این پرسش نیامده است؛ متأسفانه نمی‌دانم.",
    "متأسفم، این را نمی‌دانم؛ متن‌هایی که پیدا کردم دربارهٔ این پرسش چیزی نمی‌گویند.",
    "نمی‌دانم. در متن‌هایی که در دست دارم اطلاعاتی دربارهٔ این موضوع نیست.",
    "نمی‌دانم؛ پاسخ این پرسش در متن‌هایی که خواندم نیست.",
    "متن‌های من دربارهٔ این پرسش چیزی نمی‌گویند، پس نمی‌دانم و نمی‌خواهم حدس بزنم.",
)
REFUSAL_EXPECTED = "نمی‌دانم"  # every refusal says it, so evaluation can score refusals
FOLLOW_UPS: Mapping[str, tuple[str, ...]] = {
    "currency": (
        "و پول رایجش چیه؟",
        "واحد پولش چیست؟",
        "پولش چی هست؟",
        "با چه پولی آنجا خرید می‌کنند؟",
    ),
    "continent": (
        "و در کدام قاره است؟",
        "قاره‌اش کدومه؟",
        "این کشور کجای دنیاست؟ کدام قاره؟",
    ),
}
FOLLOW_UP_ANSWERS: Mapping[str, tuple[str, ...]] = {
    "currency": ("واحد پول {country} {currency} است.", "پول رایج آنجا {currency} است."),
    "continent": ("{country} در قارهٔ {continent} است.", "در قارهٔ {continent}."),
}


@dataclass(frozen=True)
class Read:
    """A reading row: its messages, whether it refuses, and the ids of the passages shown."""

    messages: list[Message]
    refused: bool
    shown: list[str]


@dataclass(frozen=True)
class Reader:
    """What reading rows are built from: the knowledge base (passages by id, and a search
    over them) and a token count that keeps passages within the server's budget."""

    passages: Mapping[str, Passage]
    search: ScoredSearch
    count_tokens: Callable[[str], int]
    token_budget: int

    def near_misses(self, query: str, gold: str, hidden: Container[str]) -> list[Passage]:
        """The passages the retriever ranks first for `query`, the gold one and `hidden` ones
        (the test side's entities, for a training row) left out."""
        hits = self.search.search(query, CANDIDATES, min_coverage=0.0)
        return [h.passage for h in hits if h.passage.id != gold and h.passage.id not in hidden]

    def within_budget(self, passages: list[Passage], keep: Passage | None) -> list[Passage]:
        """`passages` with distractors dropped from the end until the block fits."""
        chosen = list(passages)
        while len(chosen) > 1 and self.count_tokens(passages_block(chosen)) > self.token_budget:
            drop = next(i for i in range(len(chosen) - 1, -1, -1) if chosen[i] is not keep)
            del chosen[drop]
        return chosen

    def row(
        self,
        messages: Sequence[Message],
        gold: str,
        key: str,
        query: str | None = None,
        hidden: Container[str] = frozenset(),
        everyday: bool = False,
        show_gold: bool = False,
    ) -> Read | None:
        """`messages` (ending with the assistant's answer) with passages put in front of the
        last question: the gold passage among near misses, or near misses only — then a fact
        question (REFUSAL_PERCENT of rows) refuses, and an `everyday` conversation
        (WITHOUT_GOLD_PERCENT) keeps its own answer. `show_gold` always shows the gold
        passage (a refused row's pair). None when the gold passage is unknown."""
        passage = self.passages.get(gold)
        if passage is None:
            return None
        history, answer = list(messages[:-1]), messages[-1]
        question = next(m["content"] for m in reversed(history) if m["role"] == "user")
        misses = self.near_misses(query or question, gold, hidden)
        count = 1 + bucket(f"{key}:count", MAX_PASSAGES)
        percent = WITHOUT_GOLD_PERCENT if everyday else REFUSAL_PERCENT
        without_gold = not show_gold and bool(misses) and bucket(f"{key}:refuse", 100) < percent
        if without_gold:
            shown = self.within_budget(misses[:count], None)
            reply = answer["content"] if everyday else pick(REFUSALS, key)
        else:
            shown = misses[: count - 1]
            shown.insert(bucket(f"{key}:at", len(shown) + 1), passage)
            shown = self.within_budget(shown, passage)
            reply = answer["content"]
        out = with_passages(history, shown)
        out.append({"role": "assistant", "content": reply})
        return Read(out, without_gold and not everyday, [p.id for p in shown])

    def fact_rows(
        self,
        messages: Sequence[Message],
        gold: str,
        key: str,
        query: str | None = None,
        hidden: Container[str] = frozenset(),
    ) -> list[Read]:
        """A fact question's reading rows: the answered one, or the refused one and its pair
        (the same question with the gold passage shown, answered; keyed `key:pair`). Empty
        when the gold passage is unknown."""
        read = self.row(messages, gold, key, query, hidden)
        if read is None or not read.refused:
            return [read] if read else []
        pair = self.row(messages, gold, f"{key}:pair", query, hidden, show_gold=True)
        return [read, pair] if pair else [read]

    def computed_row(self, messages: Sequence[Message], key: str) -> Read | None:
        """`messages` with the passages the server shows a calculation: the computed one
        first and, in half of the rows, the retriever's hits above its threshold after it.
        None when the question is not one the server computes."""
        history, answer = list(messages[:-1]), messages[-1]
        question = next(m["content"] for m in reversed(history) if m["role"] == "user")
        computed = computed_passages(question)
        if not computed:
            return None
        hits = []
        if bucket(f"{key}:hits", 2):
            hits = self.search.search(question, MAX_PASSAGES, DEFAULT_MIN_COVERAGE)
        shown = [*computed, *(h.passage for h in hits)][:MAX_PASSAGES]
        shown = self.within_budget(shown, computed[0])
        out = with_passages(history, shown)
        out.append({"role": "assistant", "content": answer["content"]})
        return Read(out, False, [p.id for p in shown])


def follow_up(
    messages: Sequence[Message], kind: str, cells: Mapping[str, str], key: str
) -> list[Message]:
    """A second turn after a country question, asking about another of its facts."""
    question = pick(FOLLOW_UPS[kind], f"{key}:{kind}")
    answer = pick(FOLLOW_UP_ANSWERS[kind], f"{key}:{kind}:a").format(**cells)
    return [
        *messages,
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]


def takes_conversation(key: str) -> bool:
    """Whether a hand-written conversation also becomes a reading row (a fixed share)."""
    return bucket(f"{key}:reading", 100) < CONVERSATION_PERCENT
