from __future__ import annotations

from persian_chat.chat_format import Message
from persian_chat.knowledge import Passage, passages_block, with_passages
from persian_chat.training.data.tokens import ROLES, gemma_counter, role_tokens


def test_counts_with_the_gemma_tokenizer() -> None:
    counter = gemma_counter()
    # The README's check: 10 tokens with <bos>, so 9 without.
    assert counter.count(["سلام، حال شما چطور است؟ من"]) == [9]
    assert "gemma3-270m" in counter.description
    (short,) = counter.count_conversations(
        [[{"role": "user", "content": "سلام"}, {"role": "assistant", "content": "درود"}]]
    )
    words = counter.count(["سلام", "درود"])
    # <bos>, two turns of <start_of_turn> role \n ... <end_of_turn> \n around the words
    assert short == sum(words) + 1 + 2 * 5
    assert gemma_counter() is counter  # built once per process


def test_role_tokens_split_a_conversation_as_training_computes_it() -> None:
    counter = gemma_counter()
    passage = Passage("country:ژاپن", "ژاپن", "پایتخت ژاپن توکیو است.", "countries", "g")
    messages: list[Message] = [
        {"role": "system", "content": "دستیار فارسی هستی."},
        {"role": "user", "content": "سلام"},
        {"role": "assistant", "content": "سلام! در خدمتم."},
        {"role": "user", "content": "پایتخت ژاپن کجاست؟"},
        {"role": "assistant", "content": "توکیو."},
    ]
    rows = [{"messages": with_passages(messages[:-1], [passage]) + messages[-1:], "source": "r"}]
    table = role_tokens(counter, rows)
    total = table["total"]
    assert all(total[role] > 0 for role in ROLES)
    assert table["by_source"] == {"r": total} and table["learned"] == total["assistant"]
    whole = counter.count_conversations([rows[0]["messages"]])[0]
    assert table["computed"] == whole  # turns split at special tokens: nothing lost or added
    assert total["passages"] >= counter.count([passages_block([passage])])[0]
