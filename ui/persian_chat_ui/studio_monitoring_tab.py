"""The studio's monitoring tab: the served models' request rates and latencies."""

from __future__ import annotations

import reflex as rx

from persian_chat_ui.studio_state import StudioState
from persian_chat_ui.studio_widgets import (
    data_table,
    section,
)


def monitoring_section() -> rx.Component:
    return section(
        "۵. پایش",
        "هر ده ثانیه شمارنده‌های سرور (/metrics) خوانده می‌شود: شمار درخواست‌ها و خطاها، زمان "
        "تا نخستین توکن (میلی‌ثانیه) و سرعت تولید (توکن در ثانیه)، برای هر نسخه در یک ساعت گذشته.",
        data_table(
            ("نسخه", "درخواست", "خطا", "نخستین توکن (ms)", "توکن در ثانیه"),
            StudioState.monitor_rows,
            lambda r: rx.table.row(
                rx.table.cell(r["model"], dir="ltr"),
                rx.table.cell(r["requests"]),
                rx.table.cell(r["errors"]),
                rx.table.cell(r["ttft"]),
                rx.table.cell(r["tokens"]),
            ),
            "monitor-table",
        ),
        rx.recharts.line_chart(
            rx.recharts.line(
                data_key="tokens_per_s",
                stroke="#0d9488",
                dot=False,
                is_animation_active=False,
                name="توکن در ثانیه",
            ),
            rx.recharts.line(
                data_key="ttft_ms",
                stroke="#b45309",
                dot=False,
                is_animation_active=False,
                name="نخستین توکن (ms)",
            ),
            rx.recharts.x_axis(data_key="time"),
            rx.recharts.y_axis(),
            rx.recharts.legend(),
            data=StudioState.monitor_points,
            width="100%",
            height=220,
        ),
        id="monitoring",
    )
