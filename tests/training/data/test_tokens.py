from __future__ import annotations

from persian_chat.training.data.tokens import gemma_counter


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
