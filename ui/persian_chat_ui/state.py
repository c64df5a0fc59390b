"""The chat's state: the conversation on screen, the streaming answer and the settings.

Settings and past conversations live in the browser (localStorage), so they survive reloads
and stay with the user, not the server. The answer streams in a background event: the
server's tokens are appended in small batches (every 50 ms) so the browser is not flooded;
a dropped connection is resumed, and the Stop button cancels the answer on the server.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import reflex as rx

from persian_chat_ui.api_client import ChatError, ChatSettings, list_models, stream_chat
from persian_chat_ui.conversations_file import (
    FILE_NAME,
    ConversationFileError,
    export_text,
    merge,
    parse_import,
    persian_digits,
)

DEFAULT_ENDPOINT = os.environ.get("PERSIAN_CHAT_API_URL", "http://127.0.0.1:8000")
TEMPERATURE_RANGE = (0.0, 1.0)
MAX_TOKENS_RANGE = (16, 1024)
MAX_CONVERSATIONS = 50
FLUSH_SECONDS = 0.05
# Stop requests by client token: the background task reads this without taking the state
# lock, so Stop takes effect at the very next token.
_STOP_REQUESTS: set[str] = set()

Message = dict[str, str]


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def title_of(messages: list[Message]) -> str:
    first = next((m["content"] for m in messages if m["role"] == "user"), "گفتگوی تازه")
    first = " ".join(first.split())
    return first if len(first) <= 40 else first[:40] + "…"


class ChatState(rx.State):
    # kept in the browser
    conversations_json: str = rx.LocalStorage("[]", name="pc_conversations", sync=True)
    current_id: str = rx.LocalStorage("", name="pc_current")
    endpoint: str = rx.LocalStorage(DEFAULT_ENDPOINT, name="pc_endpoint")
    api_key: str = rx.LocalStorage("", name="pc_api_key")
    system_prompt: str = rx.LocalStorage("", name="pc_system_prompt")
    temperature: str = rx.LocalStorage("0.3", name="pc_temperature")
    max_tokens: str = rx.LocalStorage("256", name="pc_max_tokens")
    model: str = rx.LocalStorage("", name="pc_model")  # empty: the server's first model
    # this page
    messages: list[Message] = []  # noqa: RUF012 (Reflex copies state defaults per client)
    streaming: bool = False
    waiting_first_token: bool = False
    announcement: str = ""  # read by screen readers: start and end of an answer
    history_open: bool = False
    editing_index: int = -1  # the user message being edited, -1: none
    models: list[str] = []  # noqa: RUF012 (the server's, for the picker)

    # -- persistence -----------------------------------------------------------------------

    def _conversations(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.conversations_json or "[]")
        except ValueError:
            return []
        return (
            [c for c in data if isinstance(c, dict) and "id" in c] if isinstance(data, list) else []
        )

    def _save(self) -> None:
        if not self.current_id or not self.messages:
            return
        others = [c for c in self._conversations() if c["id"] != self.current_id]
        current = {
            "id": self.current_id,
            "title": title_of(self.messages),
            "updated": time.time(),
            "messages": [m for m in self.messages if m["content"]],
        }
        self.conversations_json = json.dumps(
            [current, *others][:MAX_CONVERSATIONS], ensure_ascii=False
        )

    @rx.var
    def conversation_list(self) -> list[dict[str, str]]:
        return [
            {"id": str(c["id"]), "title": str(c.get("title", ""))} for c in self._conversations()
        ]

    @rx.var
    def temperature_value(self) -> float:
        try:
            return clamp(float(self.temperature), *TEMPERATURE_RANGE)
        except ValueError:
            return 0.3

    @rx.var
    def max_tokens_value(self) -> int:
        try:
            return int(clamp(int(self.max_tokens), *MAX_TOKENS_RANGE))
        except ValueError:
            return 256

    def _show_current(self) -> None:
        for conversation in self._conversations():
            if conversation["id"] == self.current_id:
                self.messages = list(conversation.get("messages", []))
                return
        self.messages = []

    @rx.event
    def load(self) -> Any:
        """On page load: show the conversation the user had open; list the server's models."""
        self._show_current()
        return ChatState.refresh_models

    @rx.event
    def new_chat(self) -> None:
        if self.streaming:
            return
        self._save()
        self.current_id = ""
        self.messages = []
        self.history_open = False
        self.editing_index = -1

    @rx.event
    def open_conversation(self, conversation_id: str) -> None:
        if self.streaming:
            return
        self._save()
        self.current_id = conversation_id
        self.history_open = False
        self.editing_index = -1
        self._show_current()

    @rx.event
    def delete_conversation(self, conversation_id: str) -> None:
        remaining = [c for c in self._conversations() if c["id"] != conversation_id]
        self.conversations_json = json.dumps(remaining, ensure_ascii=False)
        if conversation_id == self.current_id:
            self.current_id = ""
            self.messages = []

    @rx.event
    def toggle_history(self) -> None:
        self.history_open = not self.history_open

    @rx.event
    def export_conversations(self) -> Any:
        """Every conversation as one JSON file (import it back, here or in another browser)."""
        self._save()
        return rx.download(
            data=export_text(self._conversations()),
            filename=FILE_NAME,
            mime_type="application/json",
        )

    @rx.event
    async def import_conversations(self, files: list[rx.UploadFile]) -> Any:
        """Add the conversations of an exported file; one with the same id is replaced. A file
        with any problem imports nothing and says what is wrong."""
        if not files or self.streaming:
            return None
        upload = files[0]
        try:
            imported = parse_import(await upload.read())
        except ConversationFileError as exc:
            return rx.toast.error(f"{upload.name or 'پرونده'}: {exc}", duration=8000)
        self._save()
        merged = merge(self._conversations(), imported, MAX_CONVERSATIONS)
        self.conversations_json = json.dumps(merged, ensure_ascii=False)
        self._show_current()
        count = persian_digits(len(imported))
        return rx.toast.success(f"{count} گفتگو وارد شد", duration=3000)

    # -- settings --------------------------------------------------------------------------

    @rx.event
    def set_endpoint(self, value: str) -> Any:
        self.endpoint = value.strip()
        return ChatState.refresh_models

    @rx.event
    def set_api_key(self, value: str) -> Any:
        self.api_key = value.strip()
        return ChatState.refresh_models

    @rx.event
    def set_model(self, value: str) -> None:
        self.model = value

    @rx.event
    async def refresh_models(self) -> None:
        """The picker's list: the models the server answers with now."""
        self.models = await list_models(self.endpoint or DEFAULT_ENDPOINT, self.api_key)
        if self.model and self.models and self.model not in self.models:
            self.model = ""  # served no more: back to the server's first

    @rx.event
    def set_system_prompt(self, value: str) -> None:
        self.system_prompt = value

    @rx.event
    def set_temperature(self, value: list[float] | float | str) -> None:
        raw = value[0] if isinstance(value, list) else value
        try:
            self.temperature = f"{clamp(float(raw), *TEMPERATURE_RANGE):.2f}"
        except ValueError:
            return

    @rx.event
    def set_max_tokens(self, value: str) -> None:
        try:
            self.max_tokens = str(int(clamp(int(float(value)), *MAX_TOKENS_RANGE)))
        except ValueError:
            return

    def _settings(self) -> ChatSettings:
        return ChatSettings(
            endpoint=self.endpoint or DEFAULT_ENDPOINT,
            api_key=self.api_key,
            system_prompt=self.system_prompt,
            temperature=self.temperature_value,
            max_tokens=self.max_tokens_value,
            model=self.model,
        )

    # -- chatting --------------------------------------------------------------------------

    @rx.event
    def send(self, form_data: dict[str, Any]) -> Any:
        text = str(form_data.get("draft", "")).strip()
        if not text or self.streaming:
            return None
        if not self.current_id:
            self.current_id = uuid.uuid4().hex[:12]
        self.messages = [*self.messages, {"role": "user", "content": text}]
        return ChatState.generate

    @rx.event
    def regenerate(self) -> Any:
        if self.streaming or not self.messages:
            return None
        if self.messages[-1]["role"] == "assistant":
            self.messages = self.messages[:-1]
        return ChatState.generate if self.messages else None

    @rx.event
    def start_edit(self, index: int) -> None:
        if not self.streaming:
            self.editing_index = index

    @rx.event
    def cancel_edit(self) -> None:
        self.editing_index = -1

    @rx.event
    def resend_edited(self, form_data: dict[str, Any]) -> Any:
        """The edited question replaces the old one; the answers after it are dropped and a
        new answer is generated."""
        text = str(form_data.get("edited", "")).strip()
        index = self.editing_index
        if self.streaming or not text or not 0 <= index < len(self.messages):
            return None
        if self.messages[index]["role"] != "user":
            return None
        self.editing_index = -1
        self.messages = [*self.messages[:index], {"role": "user", "content": text}]
        return ChatState.generate

    @rx.event
    def stop(self) -> None:
        if self.streaming:
            _STOP_REQUESTS.add(self.router.session.client_token)

    @rx.event
    def copy(self, text: str) -> Any:
        return [rx.set_clipboard(text), rx.toast.success("کپی شد", duration=1500)]

    @rx.event(background=True)
    async def generate(self) -> Any:
        async with self:
            history = [m for m in self.messages if m["content"]]
            settings = self._settings()
            token = self.router.session.client_token
            _STOP_REQUESTS.discard(token)
            self.messages = [*history, {"role": "assistant", "content": ""}]
            self.streaming = True
            self.waiting_first_token = True
            self.announcement = "دستیار در حال نوشتن پاسخ است"
        pending, received, question, failure = "", "", "", None
        sources = ""  # the titles of the knowledge passages the answer was given, one a line
        last_flush = time.monotonic()
        stream = stream_chat(history, settings, self.router.session.client_ip)
        try:
            async for event in stream:
                pending += str(event.get("token", ""))
                if event.get("done"):
                    sources = "\n".join(str(s.get("title", "")) for s in event.get("sources", []))
                stopping = token in _STOP_REQUESTS
                if pending and (stopping or time.monotonic() - last_flush >= FLUSH_SECONDS):
                    received += pending
                    async with self:
                        self.messages[-1]["content"] = received
                        self.waiting_first_token = False
                    pending, last_flush = "", time.monotonic()
                if stopping:
                    break
        except ChatError as exc:
            failure = exc
        finally:
            await stream.aclose()  # cancels the answer on the server if it had not ended
            _STOP_REQUESTS.discard(token)
        received += pending
        async with self:
            self.streaming = False
            self.waiting_first_token = False
            if received:
                self.messages[-1]["content"] = received
                if sources:
                    self.messages[-1]["sources"] = sources
                self.announcement = "پاسخ کامل شد" if failure is None else "پاسخ قطع شد"
                self._save()
            else:
                # nothing arrived: take the question back into the input box, lose nothing
                self.messages = self.messages[:-1]
                question = self.messages[-1]["content"] if self.messages else ""
                if self.messages and self.messages[-1]["role"] == "user":
                    self.messages = self.messages[:-1]
                self.announcement = "پاسخی دریافت نشد"
        if failure is not None:
            yield rx.toast.error(failure.message_fa, duration=8000)
            if not received and question:
                yield rx.set_value("chat-input", question)
