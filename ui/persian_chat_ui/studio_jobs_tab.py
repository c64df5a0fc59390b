"""The studio's jobs tab: the training templates and the jobs they start (progress, stop,
resume).
"""

from __future__ import annotations

import reflex as rx

from persian_chat.studio.status import JobStatus
from persian_chat_ui.studio_data_state import ADVANCED
from persian_chat_ui.studio_state import StudioState
from persian_chat_ui.studio_widgets import (
    advanced_field,
    data_table,
    section,
)


def templates_section() -> rx.Component:
    card = lambda t: rx.card(  # noqa: E731
        rx.vstack(
            rx.heading(t["title"], size="3", as_="h3"),
            rx.text(t["description"], size="2"),
            rx.text(t["estimate"], size="1", color_scheme="gray"),
            rx.button(
                "شروع آموزش با این الگو",
                on_click=StudioState.start_job(t["name"]),
                id="start-" + t["name"],
                disabled=StudioState.dataset_id < 0,
            ),
            align="start",
        ),
        class_name="template-card",
    )
    advanced = rx.el.details(
        rx.el.summary("تنظیمات پیشرفته"),
        rx.text("خالی بگذارید تا مقدار الگو به کار رود.", size="1", color_scheme="gray"),
        rx.grid(
            *[advanced_field(name) for name in ADVANCED],
            columns="2",
            spacing="2",
        ),
        id="advanced",
    )
    return section(
        "۲. الگو",
        "الگو مدل پایه، پیام سیستمی و تنظیمات آموزش را برای شما برمی‌گزیند (مدل پایه: مدل "
        "گفتگوی فارسی همین پروژه اگر ساخته شده باشد، وگرنه Gemma-3-270M). اندازهٔ دسته از "
        "حافظهٔ آزاد دستگاه انتخاب می‌شود و زمان تقریبی از سرعت اندازه‌گیری‌شدهٔ همین دستگاه است.",
        rx.grid(
            rx.foreach(StudioState.templates, card),
            columns="3",
            spacing="3",
            class_name="templates",
        ),
        advanced,
        rx.cond(
            StudioState.job_error != "",
            rx.callout(StudioState.job_error, color_scheme="red", id="job-error"),
            rx.fragment(),
        ),
        id="templates",
    )


def jobs_section() -> rx.Component:
    row = lambda j: rx.table.row(  # noqa: E731
        rx.table.cell(j["id_fa"]),
        rx.table.cell(j["template"]),
        rx.table.cell(j["status_fa"], class_name="job-status"),
        rx.table.cell(j["stage_fa"]),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "نمایش", size="1", variant="soft", on_click=StudioState.select_job(j["id"])
                ),
                rx.cond(
                    (j["status"] == JobStatus.RUNNING.value)
                    | (j["status"] == JobStatus.QUEUED.value),
                    rx.button(
                        "توقف",
                        size="1",
                        color_scheme="red",
                        class_name="stop-job",
                        on_click=StudioState.stop_job(j["id"]),
                    ),
                    rx.fragment(),
                ),
                rx.cond(
                    (j["status"] == JobStatus.STOPPED.value)
                    | (j["status"] == JobStatus.INTERRUPTED.value)
                    | (j["status"] == JobStatus.FAILED.value),
                    rx.button(
                        "ادامه",
                        size="1",
                        class_name="resume-job",
                        on_click=StudioState.resume_job(j["id"]),
                    ),
                    rx.fragment(),
                ),
                rx.link("گزارش", href=j["log_url"], size="1", is_external=True),
                spacing="2",
            )
        ),
        custom_attrs={"data-job": j["id"]},
    )
    progress = rx.cond(
        StudioState.job_id >= 0,
        rx.vstack(
            rx.hstack(
                rx.badge(StudioState.job_status, id="job-status", size="2"),
                rx.badge(StudioState.job_stage, id="job-stage", variant="soft", size="2"),
                rx.text(StudioState.step_text, id="job-step"),
                rx.text(StudioState.rate_text, id="job-rate"),
                rx.cond(
                    StudioState.eta_text != "",
                    rx.text("زمان باقی‌مانده: ", StudioState.eta_text, id="job-eta"),
                    rx.fragment(),
                ),
                wrap="wrap",
                spacing="3",
            ),
            rx.cond(
                StudioState.job_failure != "",
                rx.callout(
                    StudioState.job_failure, color_scheme="red", id="job-failure", dir="auto"
                ),
                rx.fragment(),
            ),
            rx.recharts.line_chart(
                rx.recharts.line(
                    data_key="loss", stroke="#0d9488", dot=False, is_animation_active=False
                ),
                rx.recharts.x_axis(data_key="step"),
                rx.recharts.y_axis(domain=["auto", "auto"]),
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.graphing_tooltip(),
                data=StudioState.loss_points,
                width="100%",
                height=260,
            ),
            rx.text(
                "خطای آموزش (loss) نشان می‌دهد مدل پاسخ‌های داده را چقدر بد پیش‌بینی می‌کند: "
                "باید رو به پایین برود. «توکن در ثانیه» سرعت آموزش روی این دستگاه است و زمان "
                "باقی‌مانده از همین سرعت حساب می‌شود. پس از آموزش، «ارزیابی» سردرگمی "
                "(perplexity) مدل را روی داده‌های آزمون می‌سنجد — هرچه کمتر بهتر — و «ساخت مدل "
                "ONNX» نسخهٔ int8 سریع را می‌سازد و بررسی می‌کند که کیفیتش همان بماند.",
                size="2",
                color_scheme="gray",
            ),
            align="start",
            width="100%",
            id="job-progress",
        ),
        rx.fragment(),
    )
    return section(
        "۳. کارها",
        "هر بار یک کار روی این دستگاه اجرا می‌شود و بقیه در صف می‌مانند. کار با بستن مرورگر "
        "ادامه می‌یابد؛ توقف، نقطه‌های ذخیره را نگه می‌دارد و «ادامه» از آخرین آن‌ها پیش می‌رود.",
        data_table(("شماره", "الگو", "وضعیت", "مرحله", ""), StudioState.jobs, row, "jobs-table"),
        progress,
        id="jobs",
    )
