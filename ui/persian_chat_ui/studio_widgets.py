"""Shared pieces of the studio page: a section with its plain-Persian explanation, a native
select, a table, an advanced-setting field.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from persian_chat_ui.studio_state import StudioState

ADVANCED_FA = {
    "base_model": "مدل پایه (نام یا پوشه)",
    "learning_rate": "نرخ یادگیری",
    "epochs": "شمار دورها روی داده",
    "max_steps": "بیشترین گام (جای دورها)",
    "batch_size": "اندازهٔ دسته (خالی: از حافظهٔ آزاد)",
    "max_length": "بیشترین توکن هر گفتگو",
    "save_steps": "ذخیرهٔ نقطهٔ ادامه هر چند گام",
    "trim_vocab": "کوچک‌کردن واژگان به توکن‌های فارسی",
    "packing": "بسته‌بندی بی‌فاصلهٔ نمونه‌ها",
}


def advanced_field(name: str) -> rx.Component:
    """A text box, or for a switch a choice of: as the template / yes / no."""
    if name in ("trim_vocab", "packing"):
        control = rx.el.select(
            rx.el.option("مانند الگو", value=""),
            rx.el.option("بله", value="yes"),
            rx.el.option("خیر", value="no"),
            id=f"advanced-{name}",
            class_name="studio-select",
            value=StudioState.advanced[name],
            on_change=lambda v: StudioState.set_advanced(name, v),
        )
    else:
        control = rx.el.input(
            id=f"advanced-{name}",
            dir="ltr",
            class_name="studio-input",
            value=StudioState.advanced[name],
            on_change=lambda v: StudioState.set_advanced(name, v),
        )
    return rx.el.label(rx.el.span(ADVANCED_FA[name]), control, class_name="studio-field")


def section(title: str, explanation: str, *children: rx.Component, id: str) -> rx.Component:
    return rx.el.section(
        rx.heading(title, size="4", as_="h2"),
        rx.text(explanation, color_scheme="gray", size="2", class_name="explain"),
        *children,
        class_name="studio-section",
        id=id,
    )


def native_select(options: Any, value: Any, on_change: Any, id: str, label: str) -> rx.Component:
    return rx.el.label(
        rx.el.span(label),
        rx.el.select(
            rx.foreach(options, lambda o: rx.el.option(o, value=o)),
            value=value,
            on_change=on_change,
            id=id,
            class_name="studio-select",
        ),
        class_name="studio-field",
    )


def data_table(headers: tuple[str, ...], items: Any, row: Any, id: str) -> rx.Component:
    """A table of state rows: its headers, and `row` rendering each item."""
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(items, row)),
        id=id,
    )
