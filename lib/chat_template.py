"""The chat template, rendered with plain jinja2 so training and serving build the same text.

The template is stored with the tokenizer (transformers' `chat_template` convention) and as
`chat_template.jinja` in the served directory. Turns are delimited by `<start_of_turn>` /
`<end_of_turn>` (Gemma's own special tokens; other models get them added as special tokens).
`assistant_spans` gives the character ranges the loss is taken on: each assistant reply and
the `<end_of_turn>` that closes it, so the model learns to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from persian_chat.chat_format import Message

START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"
TURN_TOKENS = (START_OF_TURN, END_OF_TURN)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@lru_cache(maxsize=8)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=False, lstrip_blocks=False)
    return env.from_string(template)


def render(
    messages: Sequence[Message],
    bos_token: str,
    add_generation_prompt: bool = False,
    template: str = CHAT_TEMPLATE,
) -> str:
    """The prompt text for `messages`, exactly as the tokenizer's chat template renders it."""
    return _compile(template).render(
        messages=list(messages), bos_token=bos_token, add_generation_prompt=add_generation_prompt
    )


def assistant_spans(
    messages: Sequence[Message], bos_token: str, template: str = CHAT_TEMPLATE
) -> list[tuple[int, int]]:
    """Character ranges [start, end) of each assistant reply plus its closing END_OF_TURN.

    Uses that the template renders a conversation's prefix as a prefix of the full text.
    """
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(
            render(messages[:index], bos_token, add_generation_prompt=True, template=template)
        )
        end = len(render(messages[: index + 1], bos_token, template=template)) - 1  # final "\n"
        spans.append((start, end))
    return spans


def prompt_ids(
    tokenizer: Any,
    messages: Sequence[Message],
    bos_token: str,
    template: str = CHAT_TEMPLATE,
    add_generation_prompt: bool = True,
) -> list[int]:
    """The ids the model answers from: `messages` rendered with the generation prompt, then
    encoded without added special tokens (the template writes BOS itself). One function for
    the server (a `tokenizers.Tokenizer`), the parity check and the evaluation (transformers
    tokenizers), so the three can never build different prompts."""
    text = render(messages, bos_token, add_generation_prompt, template=template)
    encoded = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(encoded, "ids", encoded))
