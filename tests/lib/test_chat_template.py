from __future__ import annotations

from persian_chat.chat_format import Message
from persian_chat.chat_template import CHAT_TEMPLATE, assistant_spans, render

MESSAGES: list[Message] = [
    {"role": "system", "content": "دستیار فارسی"},
    {"role": "user", "content": "سلام"},
    {"role": "assistant", "content": "درود!"},
    {"role": "user", "content": "خوبی؟"},
    {"role": "assistant", "content": "ممنون، خوبم."},
]


def test_render_layout() -> None:
    assert render(MESSAGES[:2], "<bos>", add_generation_prompt=True) == (
        "<bos><start_of_turn>system\nدستیار فارسی<end_of_turn>\n"
        "<start_of_turn>user\nسلام<end_of_turn>\n<start_of_turn>model\n"
    )


def test_assistant_spans_cover_replies_and_their_end_marker() -> None:
    text = render(MESSAGES, "<bos>")
    spans = assistant_spans(MESSAGES, "<bos>")
    assert [text[a:b] for a, b in spans] == ["درود!<end_of_turn>", "ممنون، خوبم.<end_of_turn>"]


def test_same_text_as_transformers_apply_chat_template(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The server renders with plain jinja2; transformers renders the stored template."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.BPE()), bos_token="<bos>", chat_template=CHAT_TEMPLATE
    )
    for prompt in (True, False):
        expected = tokenizer.apply_chat_template(
            MESSAGES, tokenize=False, add_generation_prompt=prompt
        )
        assert render(MESSAGES, "<bos>", add_generation_prompt=prompt) == expected
