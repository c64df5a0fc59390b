"""Reflex configuration of the chat UI (run from this folder; `persian-chat ui` does it)."""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

port = int(os.environ.get("PERSIAN_CHAT_UI_PORT", "3000"))
config = rx.Config(
    app_name="persian_chat_ui",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="teal", radius="large"))],
    backend_port=port,
    frontend_port=port,
)
