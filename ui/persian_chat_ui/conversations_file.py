"""The conversations as a JSON file the user keeps: export everything, import it back.

The file is what the browser stores, wrapped with a format name so a later version can read
older files. Importing checks every conversation and message and names the first problem in
Persian (conversation number and field); nothing is imported from a file with a problem.
"""

from __future__ import annotations

import json
from typing import Any

FORMAT = "persian-chat-conversations/1"
FILE_NAME = "persian-chat-conversations.json"
MAX_FILE_BYTES = 5 * 1024 * 1024
ROLES = ("system", "user", "assistant")


class ConversationFileError(ValueError):
    """A file that cannot be imported; the message is Persian and says what to fix."""


def export_text(conversations: list[dict[str, Any]]) -> str:
    return (
        json.dumps({"format": FORMAT, "conversations": conversations}, ensure_ascii=False, indent=2)
        + "\n"
    )


def persian_digits(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def _message(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConversationFileError(f"{where} یک شیء JSON نیست")
    role, content = raw.get("role"), raw.get("content")
    if role not in ROLES:
        raise ConversationFileError(f"نقش {where} باید user، assistant یا system باشد")
    if not isinstance(content, str):
        raise ConversationFileError(f"متن {where} رشته نیست")
    message = {"role": role, "content": content}
    if isinstance(raw.get("sources"), str):  # the knowledge passages an answer was given
        message["sources"] = raw["sources"]
    return message


def parse_import(data: bytes) -> list[dict[str, Any]]:
    """The conversations of an exported file, checked; raises ConversationFileError."""
    if len(data) > MAX_FILE_BYTES:
        raise ConversationFileError("پرونده بزرگ‌تر از ۵ مگابایت است")
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConversationFileError("پرونده با UTF-8 نوشته نشده است") from None
    except json.JSONDecodeError as exc:
        line = persian_digits(exc.lineno)
        raise ConversationFileError(f"پرونده JSON درستی نیست (خط {line})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConversationFileError("این پرونده خروجی گفتگوهای همین برنامه نیست")
    raw = document.get("conversations")
    if not isinstance(raw, list):
        raise ConversationFileError("فهرست conversations در پرونده نیست")
    conversations = []
    for number, item in enumerate(raw, 1):
        where = f"گفتگوی {persian_digits(number)}"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ConversationFileError(f"{where} شناسهٔ (id) درستی ندارد")
        messages = item.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ConversationFileError(f"{where} پیامی ندارد")
        checked = [
            _message(m, f"پیام {persian_digits(i)} از {where}") for i, m in enumerate(messages, 1)
        ]
        updated = item.get("updated")
        conversations.append(
            {
                "id": item["id"],
                "title": str(item.get("title") or ""),
                "updated": updated if isinstance(updated, (int, float)) else 0.0,
                "messages": checked,
            }
        )
    return conversations


def merge(
    existing: list[dict[str, Any]], imported: list[dict[str, Any]], limit: int
) -> list[dict[str, Any]]:
    """Imported conversations replace ones with the same id; newest first, at most `limit`."""
    ids = {c["id"] for c in imported}
    merged = imported + [c for c in existing if c["id"] not in ids]
    merged.sort(key=lambda c: float(c.get("updated") or 0), reverse=True)
    return merged[:limit]
