"""One JSON line per request: who (key id, never the key), what happened, how fast.

User text stays out of the log unless the operator turns on `log_user_text` for debugging.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger("persian_chat.server.requests")


def log_request(**fields: Any) -> None:
    record = {"ts": round(time.time(), 3), **{k: v for k, v in fields.items() if v is not None}}
    for key, value in record.items():
        if isinstance(value, float):
            record[key] = round(value, 4)
    log.info(json.dumps(record, ensure_ascii=False))
