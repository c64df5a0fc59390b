"""The studio's versions tab: trained versions, their evaluation side by side, a trial chat
and serving one.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from persian_chat_ui.studio_state import StudioState
from persian_chat_ui.studio_widgets import (
    data_table,
    section,
)


def version_select(value: Any, on_change: Any, id: str) -> rx.Component:
    options = rx.foreach(StudioState.versions, lambda v: rx.el.option(v["name"], value=v["id"]))
    return rx.el.select(
        options, value=value, on_change=on_change, id=id, class_name="studio-select"
    )


def trial_chat() -> rx.Component:
    """A test chat with the version being tried (its own server process)."""
    bubble = lambda m: rx.box(  # noqa: E731
        rx.text(m["content"], dir="auto"),
        class_name=rx.cond(m["role"] == "user", "bubble user", "bubble assistant trial-answer"),
    )
    return rx.cond(
        StudioState.trial_version != "",
        rx.vstack(
            rx.heading("آزمودن ", StudioState.trial_version, size="3", as_="h3", id="trial-title"),
            rx.foreach(StudioState.trial_messages, bubble),
            rx.cond(
                StudioState.trial_error != "",
                rx.callout(StudioState.trial_error, color_scheme="red", id="trial-error"),
                rx.fragment(),
            ),
            rx.form(
                rx.hstack(
                    rx.el.input(
                        name="trial_question",
                        id="trial-input",
                        dir="auto",
                        class_name="studio-input",
                        placeholder="پرسشی بنویسید…",
                    ),
                    rx.button(
                        rx.cond(StudioState.trial_busy, rx.spinner(size="1"), "بفرست"),
                        type="submit",
                        id="trial-send",
                        disabled=StudioState.trial_busy,
                    ),
                    width="100%",
                ),
                on_submit=StudioState.ask_trial,
                width="100%",
            ),
            align="stretch",
            width="100%",
            class_name="trial-chat",
            id="trial-chat",
        ),
        rx.fragment(),
    )


def versions_section() -> rx.Component:
    row = lambda v: rx.table.row(  # noqa: E731
        rx.table.cell(v["name"], dir="ltr"),
        rx.table.cell(v["created"]),
        rx.table.cell(v["perplexity"]),
        rx.table.cell(v["parity"]),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    v["served"] == "true",
                    rx.badge("در حال سرویس", color_scheme="green"),
                    rx.button(
                        "سرویس",
                        size="1",
                        class_name="serve-version",
                        on_click=StudioState.serve_version(v["id"]),
                        disabled=StudioState.serving,
                    ),
                ),
                rx.button(
                    "آزمودن",
                    size="1",
                    variant="soft",
                    class_name="try-version",
                    on_click=StudioState.try_version(v["id"]),
                    disabled=StudioState.trial_busy,
                ),
                rx.link("ONNX (zip)", href=v["served_url"], size="1", is_external=True),
                rx.link("PyTorch (zip)", href=v["checkpoint_url"], size="1", is_external=True),
                spacing="2",
            )
        ),
        custom_attrs={"data-version": v["name"]},
    )
    compare = rx.cond(
        StudioState.versions.length() > 0,
        rx.vstack(
            rx.hstack(
                version_select(StudioState.compare_a, StudioState.set_compare_a, "compare-a"),
                version_select(StudioState.compare_b, StudioState.set_compare_b, "compare-b"),
            ),
            rx.table.root(
                rx.table.body(
                    rx.foreach(
                        StudioState.comparison,
                        lambda r: rx.table.row(
                            rx.table.row_header_cell(r[0]),
                            rx.table.cell(r[1], dir="auto"),
                            rx.table.cell(r[2], dir="auto"),
                        ),
                    )
                ),
                id="compare-table",
            ),
            align="start",
        ),
        rx.fragment(),
    )
    return section(
        "۴. نسخه‌ها",
        "هر کار پایان‌یافته یک نسخهٔ مدل است، با داده، دستور آموزش و نتیجهٔ ارزیابی‌اش. «سرویس» "
        "این نسخه را بی‌راه‌اندازی دوباره در کنار مدل‌های دیگر به سرور در حال اجرا می‌افزاید؛ "
        "در گفتگو از فهرست مدل‌ها (تنظیمات) برگزینیدش و با نخستین پرسش بارگذاری می‌شود. "
        "«آزمودن» نسخه را بی‌آنکه سرویس شود در گفتگویی آزمایشی همین‌جا می‌آزماید (با سروری "
        "جدا که تنها برای آزمون بالا می‌آید).",
        rx.hstack(
            rx.text("مدل‌های در حال سرویس: "),
            rx.code(StudioState.served_model, id="served-model", dir="ltr"),
            rx.link("آزمودن در گفتگو", href="/", id="try-chat"),
            spacing="2",
            align="center",
        ),
        rx.cond(
            StudioState.serve_message != "",
            rx.text(StudioState.serve_message, id="serve-message", dir="auto"),
            rx.fragment(),
        ),
        data_table(
            ("نسخه", "زمان", "سردرگمی", "برابری int8", ""),
            StudioState.versions,
            row,
            "versions-table",
        ),
        trial_chat(),
        compare,
        id="versions",
    )
