"""Who may use the studio from this browser session: the base every tab's state builds on.

Beyond loopback every event needs the admin key first (compared in constant time); until
then `_studio()` answers None and the handlers do nothing.
"""

from __future__ import annotations

import os

import reflex as rx

from persian_chat.studio.service import Studio, get_studio

ENABLED = os.environ.get("PERSIAN_CHAT_STUDIO") == "1"


class StudioAccess(rx.State, mixin=True):
    enabled: bool = ENABLED
    needs_key: bool = False
    unlocked: bool = False

    def _studio(self) -> Studio | None:
        """The studio, or None when this session may not use it."""
        if not self.enabled:
            return None
        studio = get_studio()
        self.needs_key = studio.settings.needs_key
        if self.needs_key and not self.unlocked:
            return None
        return studio

    def _refresh(self, studio: Studio) -> None:
        """Read again what every tab shows. The page's state (StudioState) composes it from
        its tabs' parts; a tab calls it after a change that others show too."""
        raise NotImplementedError
