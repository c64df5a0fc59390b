from __future__ import annotations

from pathlib import Path

import pytest

from persian_chat.chat_template import render
from persian_chat.server.http.api_schema import ChatRequest
from persian_chat.server.http.prompt_request import build_prompt
from persian_chat.server.settings import ServerSettings
from persian_chat.server.text.prompt import PromptError, prompt_ids
from persian_chat.server.text.served_model import ServedModel, load_served_model


@pytest.fixture(scope="module")
def model(tiny_served_dir: Path) -> ServedModel:
    return load_served_model(tiny_served_dir)


def body(*contents: str, **fields: object) -> ChatRequest:
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]
    return ChatRequest.model_validate({"messages": messages, **fields})


def test_prompt_ids_are_the_rendered_template_encoded_without_added_specials(
    model: ServedModel,
) -> None:
    messages = [{"role": "user", "content": "سلام"}]
    text = render(
        messages, model.bos_token, add_generation_prompt=True, template=model.chat_template
    )
    expected = model.tokenizer.encode(text, add_special_tokens=False).ids
    assert prompt_ids(model, messages) == list(expected)  # type: ignore[arg-type]


def test_the_system_prompt_is_added_and_user_text_normalized(
    model: ServedModel, tiny_served_dir: Path
) -> None:
    settings = ServerSettings(model_dir=tiny_served_dir, system_prompt="دستیار")
    prompt = build_prompt(body("سلام"), None, model, settings, str.upper)
    assert prompt.messages[0] == {"role": "system", "content": "دستیار"}
    assert prompt.messages[1]["content"] == "سلام".upper() and prompt.dropped_messages == 0
    assert prompt.request.prompt == prompt_ids(model, prompt.messages)


def test_a_long_conversation_loses_its_oldest_turns_first(
    model: ServedModel, tiny_served_dir: Path
) -> None:
    long = "کلمه " * 40
    turns = [long, "پاسخ " * 40] * 6 + ["آخرین پرسش"]
    one_turn = len(prompt_ids(model, [{"role": "user", "content": "آخرین پرسش"}]))
    settings = ServerSettings(model_dir=tiny_served_dir, max_prompt_tokens=one_turn + 200)
    prompt = build_prompt(body(*turns), 16, model, settings, lambda t: t)
    turns = [m for m in prompt.messages if m["role"] != "system"]
    assert prompt.dropped_messages > 0 and turns[0]["role"] == "user"  # whole turns dropped
    assert prompt.messages[-1]["content"] == "آخرین پرسش"
    assert len(prompt.request.prompt) <= one_turn + 200


@pytest.mark.parametrize(
    ("contents", "fields", "settings", "param"),
    [
        (("سلام", "پاسخ"), {}, {}, "messages"),  # the last message is not the user's
        (("سلام",), {"max_tokens": 10_000}, {"max_tokens_limit": 512}, "max_tokens"),
        (("سلام",) * 3, {}, {"max_messages": 2}, "messages"),
        (("سلام" * 10,), {}, {"max_message_chars": 5}, "messages.0.content"),
        (("سلام",), {"stop": ["a", "b", "c"]}, {"max_stop_strings": 2}, "stop"),
    ],
)
def test_limits_raise_a_prompt_error_naming_the_field(
    model: ServedModel,
    tiny_served_dir: Path,
    contents: tuple[str, ...],
    fields: dict[str, object],
    settings: dict[str, object],
    param: str,
) -> None:
    config = ServerSettings(model_dir=tiny_served_dir, **settings)  # type: ignore[arg-type]
    with pytest.raises(PromptError) as error:
        build_prompt(
            body(*contents, **fields),
            body(*contents, **fields).max_tokens,
            model,
            config,
            lambda t: t,
        )
    assert error.value.param == param


def test_a_last_turn_that_cannot_fit_is_context_length_exceeded(
    model: ServedModel, tiny_served_dir: Path
) -> None:
    settings = ServerSettings(model_dir=tiny_served_dir, max_prompt_tokens=4)
    with pytest.raises(PromptError) as error:
        build_prompt(body("سلام " * 20), None, model, settings, lambda t: t)
    assert error.value.code == "context_length_exceeded" and error.value.param == "messages"
