"""The studio page: data, templates, jobs, versions and monitoring, in Persian, RTL; each
tab is its own module (studio_data_tab, studio_jobs_tab, studio_versions_tab,
studio_monitoring_tab) with the shared pieces in studio_widgets.

Each section says in plain Persian what its step does and what its numbers mean, for
people who have never trained a model.
"""

from __future__ import annotations

import reflex as rx

from persian_chat_ui.studio_data_tab import data_section
from persian_chat_ui.studio_jobs_tab import jobs_section, templates_section
from persian_chat_ui.studio_monitoring_tab import monitoring_section
from persian_chat_ui.studio_state import StudioState
from persian_chat_ui.studio_versions_tab import versions_section


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
