"""Pages and components of the chat: right-to-left, mobile first, accessible."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import reflex as rx
from starlette.applications import Starlette

from persian_chat.studio.downloads import ROUTES as DOWNLOAD_ROUTES
from persian_chat.studio.service import get_studio
from persian_chat_ui.state import MAX_TOKENS_RANGE, TEMPERATURE_RANGE, ChatState
from persian_chat_ui.studio_page import studio
from persian_chat_ui.studio_state import ENABLED, StudioState


def aria(label: str, **extra: str) -> dict[str, str]:
    return {"aria-label": label, **extra}


def icon_button(icon: str, label: str, size: str = "3", **props: object) -> rx.Component:
    return rx.icon_button(
        rx.icon(icon),
        variant="ghost",
        size=size,
        title=label,
        custom_attrs=aria(label),
        **props,
    )


def edit_form(message: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """A sent question, editable: sending it replaces the answers after it."""
    return rx.form(
        rx.el.textarea(
            name="edited",
            default_value=message["content"],
            id="edit-input",
            rows=3,
            dir="auto",
            class_name="chat-input edit-input",
            custom_attrs=aria("ویرایش پرسش"),
        ),
        rx.hstack(
            rx.button("بفرست", type="submit", id="edit-send", size="2"),
            rx.button(
                "انصراف",
                type="button",
                variant="soft",
                size="2",
                id="edit-cancel",
                on_click=ChatState.cancel_edit,
            ),
            spacing="2",
            justify="end",
        ),
        on_submit=ChatState.resend_edited,
        reset_on_submit=True,
        class_name="edit-form",
    )


def sources_list(message: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """The knowledge passages an answer was given, folded under it (opened on a click)."""
    titles = message["sources"].to(str)
    return rx.cond(
        titles,
        rx.el.details(
            rx.el.summary("منابع این پاسخ"),
            rx.el.ul(rx.foreach(titles.split("\n"), lambda title: rx.el.li(title))),
            class_name="sources",
            dir="rtl",
            lang="fa",
        ),
        rx.fragment(),
    )


def message_bubble(message: rx.Var, index: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    is_user = message["role"] == "user"
    is_last = index == ChatState.messages.length() - 1
    typing = rx.cond(
        ChatState.waiting_first_token & is_last & ~is_user,
        rx.box(
            rx.el.span(),
            rx.el.span(),
            rx.el.span(),
            class_name="typing",
            custom_attrs=aria("در حال نوشتن"),
        ),
        rx.fragment(),
    )
    editing = ChatState.editing_index == index
    actions = rx.hstack(
        icon_button(
            "copy",
            "کپی پیام",
            size="1",
            on_click=ChatState.copy(message["content"]),
            class_name="copy-button",
        ),
        rx.cond(
            is_user & ~ChatState.streaming & ~editing,
            icon_button(
                "pencil",
                "ویرایش پرسش",
                size="1",
                on_click=ChatState.start_edit(index),
                class_name="edit-button",
            ),
            rx.fragment(),
        ),
        rx.cond(
            is_last & ~is_user & ~ChatState.streaming,
            icon_button(
                "refresh-cw",
                "پاسخ دوباره",
                size="1",
                on_click=ChatState.regenerate,
                id="regenerate-button",
            ),
            rx.fragment(),
        ),
        class_name="bubble-actions",
        spacing="1",
    )
    return rx.box(
        rx.box(
            rx.cond(
                is_user,
                rx.cond(
                    editing,
                    edit_form(message),
                    rx.text(message["content"], class_name="user-text", dir="auto"),
                ),
                rx.box(rx.markdown(message["content"]), dir="auto", class_name="markdown"),
            ),
            typing,
            rx.cond(is_user, rx.fragment(), sources_list(message)),
            rx.cond(message["content"] != "", actions, rx.fragment()),
            class_name=rx.cond(is_user, "bubble user", "bubble assistant"),
            custom_attrs={"aria-busy": rx.cond(is_last & ChatState.streaming, "true", "false")},
        ),
        class_name=rx.cond(is_user, "row user", "row assistant"),
        role="article",
        custom_attrs=aria(rx.cond(is_user, "پیام شما", "پاسخ دستیار")),
    )


def empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("سلام! چه کمکی از دستم برمی‌آید؟", size="6"),
            rx.text(
                "پرسشتان را به فارسی بنویسید. Enter می‌فرستد و Shift+Enter خط تازه می‌سازد.",
                color_scheme="gray",
            ),
            align="center",
        ),
        class_name="empty",
    )


def message_list() -> rx.Component:
    return rx.box(
        rx.cond(
            ChatState.messages.length() == 0,
            empty_state(),
            rx.foreach(ChatState.messages, message_bubble),
        ),
        id="messages",
        class_name="messages",
        role="log",
        custom_attrs={
            "aria-live": "polite",
            "aria-relevant": "additions",
            "aria-label": "گفتگو",
        },
    )


def composer() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.textarea(
                name="draft",
                id="chat-input",
                placeholder="پیام خود را بنویسید…",
                rows=1,
                dir="auto",
                class_name="chat-input",
                enter_key_hint="send",
                # "true" once the page is hydrated and its events reach the server: before
                # that a keypress can be lost (tests wait for it)
                custom_attrs={
                    **aria("متن پیام"),
                    "data-ready": rx.cond(rx.State.is_hydrated, "true", "false"),
                },
            ),
            rx.cond(
                ChatState.streaming,
                rx.button(
                    rx.icon("square", size=18),
                    "توقف",
                    type="button",
                    id="stop-button",
                    on_click=ChatState.stop,
                    color_scheme="red",
                    size="3",
                    custom_attrs=aria("توقف پاسخ"),
                ),
                rx.button(
                    rx.icon("send", size=18),
                    "بفرست",
                    type="submit",
                    id="send-button",
                    size="3",
                    custom_attrs=aria("ارسال پیام"),
                ),
            ),
            align="end",
            spacing="2",
            width="100%",
        ),
        on_submit=ChatState.send,
        reset_on_submit=True,
        id="chat-form",
        class_name="composer",
    )


def settings_dialog() -> rx.Component:
    field = "settings-field"
    return rx.dialog.root(
        rx.dialog.trigger(
            icon_button(
                "settings", "تنظیمات", id="settings-button", on_click=ChatState.refresh_models
            )
        ),
        rx.dialog.content(
            rx.dialog.title("تنظیمات"),
            rx.dialog.description(
                "همه در همین مرورگر نگه داشته می‌شوند و بی‌درنگ اعمال می‌شوند.", size="2"
            ),
            rx.vstack(
                rx.el.label("نشانی سرور", html_for="endpoint-input"),
                rx.input(
                    value=ChatState.endpoint,
                    on_change=ChatState.set_endpoint,
                    id="endpoint-input",
                    dir="ltr",
                    class_name=field,
                ),
                rx.el.label("کلید API", html_for="api-key-input"),
                rx.input(
                    value=ChatState.api_key,
                    on_change=ChatState.set_api_key,
                    id="api-key-input",
                    type="password",
                    dir="ltr",
                    class_name=field,
                ),
                rx.el.label("مدل", html_for="model-select"),
                rx.el.select(
                    rx.el.option("پیش‌فرض سرور", value=""),
                    rx.foreach(ChatState.models, lambda name: rx.el.option(name, value=name)),
                    value=ChatState.model,
                    on_change=ChatState.set_model,
                    id="model-select",
                    dir="ltr",
                    class_name=field,
                ),
                rx.el.label("پیام سیستمی (خالی: پیش‌فرض سرور)", html_for="system-prompt-input"),
                rx.text_area(
                    value=ChatState.system_prompt,
                    on_change=ChatState.set_system_prompt,
                    id="system-prompt-input",
                    dir="auto",
                    class_name=field,
                ),
                rx.el.label(
                    f"دما: {ChatState.temperature_value} (۰٫۲ تا ۰٫۴ پیشنهاد می‌شود)",
                    html_for="temperature-slider",
                ),
                rx.slider(
                    value=[ChatState.temperature_value],
                    min=TEMPERATURE_RANGE[0],
                    max=TEMPERATURE_RANGE[1],
                    step=0.05,
                    on_change=ChatState.set_temperature,
                    id="temperature-slider",
                    custom_attrs=aria("دما"),
                ),
                rx.el.label("بیشترین تعداد توکن پاسخ", html_for="max-tokens-input"),
                rx.input(
                    value=ChatState.max_tokens,
                    on_change=ChatState.set_max_tokens,
                    id="max-tokens-input",
                    type="number",
                    min=MAX_TOKENS_RANGE[0],
                    max=MAX_TOKENS_RANGE[1],
                    dir="ltr",
                    class_name=field,
                ),
                spacing="2",
                width="100%",
            ),
            rx.dialog.close(rx.button("بستن", id="settings-close", margin_top="1em")),
            dir="rtl",
        ),
    )


def history_panel() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.heading("گفتگوهای پیشین", size="3"),
            icon_button(
                "x", "بستن فهرست", on_click=ChatState.toggle_history, class_name="only-mobile"
            ),
            justify="between",
            width="100%",
        ),
        rx.vstack(
            rx.foreach(
                ChatState.conversation_list,
                lambda c: rx.hstack(
                    rx.button(
                        c["title"],
                        variant=rx.cond(c["id"] == ChatState.current_id, "soft", "ghost"),
                        on_click=ChatState.open_conversation(c["id"]),
                        class_name="history-item",
                        dir="auto",
                    ),
                    icon_button(
                        "trash-2", "حذف گفتگو", on_click=ChatState.delete_conversation(c["id"])
                    ),
                    width="100%",
                    spacing="1",
                ),
            ),
            width="100%",
            spacing="1",
        ),
        rx.hstack(
            rx.button(
                rx.icon("download", size=16),
                "خروجی گفتگوها",
                variant="soft",
                size="2",
                on_click=ChatState.export_conversations,
                id="export-button",
            ),
            rx.upload.root(
                rx.button(
                    rx.icon("upload", size=16),
                    "ورود گفتگوها",
                    variant="soft",
                    size="2",
                    type="button",
                    id="import-button",
                ),
                id="import-upload",
                accept={"application/json": [".json"]},
                max_files=1,
                multiple=False,
                on_drop=ChatState.import_conversations,
            ),
            spacing="2",
            wrap="wrap",
            class_name="history-files",
        ),
        class_name=rx.cond(ChatState.history_open, "history open", "history"),
        id="history",
        role="navigation",
        custom_attrs=aria("گفتگوهای پیشین"),
    )


def header() -> rx.Component:
    return rx.hstack(
        icon_button(
            "menu", "گفتگوهای پیشین", on_click=ChatState.toggle_history, class_name="only-mobile"
        ),
        rx.heading("گفتگوی فارسی", size="5", as_="h1"),
        rx.spacer(),
        icon_button("plus", "گفتگوی تازه", on_click=ChatState.new_chat, id="new-chat-button"),
        rx.cond(
            StudioState.enabled,
            rx.link(
                icon_button("graduation-cap", "استودیوی آموزش"), href="/studio", id="studio-link"
            ),
            rx.fragment(),
        ),
        settings_dialog(),
        rx.icon_button(
            rx.color_mode_cond(light=rx.icon("moon", size=18), dark=rx.icon("sun", size=18)),
            variant="ghost",
            size="3",
            title="تغییر پوسته",
            on_click=rx.toggle_color_mode,
            id="theme-button",
            custom_attrs=aria("تغییر پوسته روشن و تیره"),
        ),
        class_name="header",
        align="center",
        width="100%",
    )


def index() -> rx.Component:
    return rx.box(
        rx.el.a("رفتن به کادر پیام", href="#chat-input", class_name="skip-link"),
        history_panel(),
        rx.box(
            header(),
            rx.el.main(message_list(), class_name="main"),
            composer(),
            rx.box(
                ChatState.announcement,
                role="status",
                class_name="visually-hidden",
                custom_attrs={"aria-live": "polite"},
            ),
            class_name="chat",
        ),
        rx.script(src="/chat.js"),
        class_name="layout",
        dir="rtl",
        lang="fa",
    )


@contextlib.asynccontextmanager
async def studio_lifespan() -> AsyncIterator[None]:
    """With `persian-chat studio`, the job service and the metrics sampler start with the
    app (queued jobs go on, running ones are found again), not on the first page view."""
    studio = await asyncio.to_thread(get_studio) if ENABLED else None
    try:
        yield
    finally:
        if studio is not None:
            studio.close()


app = rx.App(
    api_transformer=Starlette(routes=DOWNLOAD_ROUTES),
    html_lang="fa",
    html_custom_attrs={"dir": "rtl"},
    stylesheets=["/fonts.css", "/chat.css"],
    head_components=[rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
)
app.add_page(index, title="گفتگوی فارسی", on_load=ChatState.load)
app.add_page(studio, route="/studio", title="استودیوی آموزش", on_load=StudioState.load)
app.register_lifespan_task(studio_lifespan)
