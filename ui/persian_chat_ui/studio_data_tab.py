"""The studio's data tab: uploads (conversations, knowledge documents), the knowledge search
and the dataset a job trains on.
"""

from __future__ import annotations

import reflex as rx

from persian_chat_ui.studio_state import StudioState
from persian_chat_ui.studio_widgets import (
    native_select,
    section,
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
