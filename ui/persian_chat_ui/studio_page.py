"""The studio page: data, templates, jobs, versions and monitoring, in Persian, RTL.

Each section says in plain Persian what its step does and what its numbers mean, for
people who have never trained a model.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from persian_chat.studio.status import JobStatus
from persian_chat_ui.studio_state import ADVANCED, StudioState

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


def knowledge_upload() -> rx.Component:
    """Documents that become the bot's knowledge: dropped, previewed as passages."""
    documents = rx.cond(
        StudioState.knowledge_docs.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.foreach(
                    StudioState.knowledge_docs,
                    lambda d: rx.badge(d["name"], ": ", d["count"], " بخش", variant="soft"),
                ),
                rx.button("پاک کردن", on_click=StudioState.clear_knowledge, variant="ghost"),
                wrap="wrap",
                id="knowledge-docs",
            ),
            rx.el.details(
                rx.el.summary("بخش‌هایی که ربات می‌خواند"),
                rx.foreach(
                    StudioState.knowledge_preview,
                    lambda p: rx.box(
                        rx.text(p["title"], weight="bold", size="2"),
                        rx.text(p["text"], size="2"),
                        class_name="passage",
                    ),
                ),
                id="knowledge-preview",
                dir="rtl",
                lang="fa",
            ),
            align="start",
            width="100%",
        ),
        rx.fragment(),
    )
    return rx.vstack(
        rx.upload.root(
            rx.vstack(
                rx.icon("book_open", size=20),
                rx.text("دانش ربات (اختیاری): پرونده‌های TXT، MD یا JSONL را اینجا رها کنید"),
                align="center",
            ),
            id="knowledge-upload",
            class_name="dropzone",
            multiple=True,
            on_drop=StudioState.handle_knowledge_upload,
        ),
        rx.cond(
            StudioState.knowledge_error != "",
            rx.callout(
                StudioState.knowledge_error,
                icon="triangle_alert",
                color_scheme="red",
                id="knowledge-error",
                dir="auto",
            ),
            rx.fragment(),
        ),
        documents,
        align="start",
        width="100%",
    )


def knowledge_search() -> rx.Component:
    """Search the shown dataset's knowledge as the chat would."""
    hits = rx.cond(
        StudioState.knowledge_searched != "",
        rx.cond(
            StudioState.knowledge_hits.length() > 0,
            rx.vstack(
                rx.foreach(
                    StudioState.knowledge_hits,
                    lambda h: rx.box(
                        rx.text(h["title"], " (", h["coverage"], ")", weight="bold", size="2"),
                        rx.text(h["text"], size="2"),
                        class_name="passage",
                    ),
                ),
                id="knowledge-hits",
                align="start",
            ),
            rx.text(
                "بخشی که به این پرسش بخورد پیدا نشد؛ ربات خواهد گفت که نمی‌داند.",
                size="2",
                id="knowledge-hits",
            ),
        ),
        rx.fragment(),
    )
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="query",
                    placeholder="پرسشی بنویسید تا ببینید ربات چه می‌خواند",
                    id="knowledge-query",
                    dir="auto",
                    lang="fa",
                    width="100%",
                ),
                rx.button("جستجو در دانش", type="submit", id="knowledge-search"),
                width="100%",
            ),
            on_submit=StudioState.search_knowledge,
            width="100%",
        ),
        hits,
        align="start",
        width="100%",
        dir="rtl",
    )


def data_section() -> rx.Component:
    preview = rx.cond(
        StudioState.columns.length() > 0,
        rx.vstack(
            rx.text(
                f"{'پیش‌نمایش'} ",
                StudioState.upload_name,
                " — ",
                StudioState.row_count,
                " سطر",
                weight="bold",
                id="preview-title",
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.foreach(
                                StudioState.columns, lambda c: rx.table.column_header_cell(c)
                            )
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            StudioState.preview_rows,
                            lambda row: rx.table.row(
                                rx.foreach(
                                    StudioState.columns, lambda c: rx.table.cell(row[c], dir="auto")
                                )
                            ),
                        )
                    ),
                ),
                class_name="table-scroll",
                id="preview-table",
            ),
            rx.foreach(StudioState.bad_rows, lambda b: rx.text(b, color_scheme="amber", size="2")),
            rx.cond(
                StudioState.data_format == "qa",
                rx.hstack(
                    native_select(
                        StudioState.columns,
                        StudioState.question_column,
                        StudioState.set_question_column,
                        "question-column",
                        "ستون پرسش",
                    ),
                    native_select(
                        StudioState.columns,
                        StudioState.answer_column,
                        StudioState.set_answer_column,
                        "answer-column",
                        "ستون پاسخ",
                    ),
                    wrap="wrap",
                ),
                rx.text("هر سطر یک گفتگوی کامل (messages) است.", size="2"),
            ),
            rx.button(
                rx.cond(StudioState.preparing, rx.spinner(size="1"), rx.icon("check", size=16)),
                "آماده‌سازی و ثبت داده",
                on_click=StudioState.save_dataset,
                disabled=StudioState.preparing,
                id="save-dataset",
            ),
            align="start",
            width="100%",
        ),
        rx.fragment(),
    )
    counts = rx.cond(
        StudioState.dataset_id >= 0,
        rx.vstack(
            rx.text("دادهٔ آماده: ", StudioState.dataset_label, weight="bold", id="dataset-label"),
            rx.hstack(
                rx.foreach(
                    StudioState.dataset_counts,
                    lambda c: rx.badge(c[0], ": ", c[1], variant="soft", size="2"),
                ),
                wrap="wrap",
                id="dataset-counts",
            ),
            rx.cond(
                StudioState.dropped.length() > 0,
                rx.el.details(
                    rx.el.summary("نمونه‌های کنارگذاشته"),
                    rx.foreach(StudioState.dropped, lambda d: rx.text(d, size="1", dir="auto")),
                ),
                rx.fragment(),
            ),
            knowledge_search(),
            align="start",
            width="100%",
        ),
        rx.fragment(),
    )
    return section(
        "۱. داده",
        "پروندهٔ CSV، JSONL یا JSON خود را بکشید و رها کنید. ستون پرسش و ستون پاسخ را برگزینید؛ "
        "داده همان‌گونه که «persian-chat prepare» می‌کند یکسان‌سازی، پاک‌سازی و به دو بخش آموزش "
        "و آزمون تقسیم می‌شود و شمار سطرهای هر مرحله نمایش داده می‌شود. متن‌های دانش ربات "
        "(و پرسش و پاسخ‌های همین پرونده) هنگام گفتگو جستجو و پیش از پرسش به مدل داده می‌شوند.",
        rx.upload.root(
            rx.vstack(
                rx.icon("upload", size=24),
                rx.text("پرونده را اینجا رها کنید یا برای برگزیدن کلیک کنید"),
                align="center",
            ),
            id="studio-upload",
            class_name="dropzone",
            max_files=1,
            multiple=False,
            on_drop=StudioState.handle_upload,
        ),
        rx.cond(
            StudioState.upload_error != "",
            rx.callout(
                StudioState.upload_error,
                icon="triangle_alert",
                color_scheme="red",
                id="upload-error",
                dir="auto",
            ),
            rx.fragment(),
        ),
        preview,
        knowledge_upload(),
        counts,
        rx.cond(
            StudioState.datasets.length() > 0,
            rx.el.label(
                rx.el.span("یا یکی از داده‌های پیشین: "),
                rx.el.select(
                    rx.el.option("—", value=""),
                    rx.foreach(
                        StudioState.datasets, lambda d: rx.el.option(d["label"], value=d["id"])
                    ),
                    on_change=StudioState.use_dataset,
                    id="dataset-select",
                    class_name="studio-select",
                ),
                class_name="studio-field",
            ),
            rx.fragment(),
        ),
        id="data",
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


def locked() -> rx.Component:
    return rx.form(
        rx.text("این استودیو بیرون از همین دستگاه در دسترس است: کلید مدیر را وارد کنید."),
        rx.el.input(
            name="admin_key", type="password", id="admin-key", dir="ltr", class_name="studio-input"
        ),
        rx.button("ورود", type="submit", id="unlock"),
        on_submit=StudioState.unlock,
        class_name="studio-section",
    )


def studio() -> rx.Component:
    body = rx.cond(
        StudioState.needs_key & ~StudioState.unlocked,
        locked(),
        rx.fragment(
            data_section(),
            templates_section(),
            jobs_section(),
            versions_section(),
            monitoring_section(),
            rx.moment(interval=1000, on_change=StudioState.tick, display="none"),
        ),
    )
    return rx.box(
        rx.hstack(
            rx.heading("استودیوی آموزش", size="5", as_="h1"),
            rx.spacer(),
            rx.link("گفتگو", href="/", id="chat-link"),
            class_name="header",
            align="center",
            width="100%",
        ),
        rx.cond(
            StudioState.enabled,
            body,
            rx.callout(
                "استودیو روشن نیست: آن را با «persian-chat studio» اجرا کنید.", id="studio-disabled"
            ),
        ),
        class_name="studio",
        dir="rtl",
        lang="fa",
    )
