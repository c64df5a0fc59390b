"""How the studio page writes figures and names in Persian: digits, durations, times, and
the Persian labels of job statuses, pipeline stages and prepare's counts."""

from __future__ import annotations

import time
from typing import Any

from persian_chat.persian_numbers import persian_digits
from persian_chat.studio.status import JobStatus

STATUS_FA: dict[str, str] = {
    JobStatus.QUEUED: "در صف",
    JobStatus.RUNNING: "در حال اجرا",
    JobStatus.STOPPING: "در حال توقف",
    JobStatus.STOPPED: "متوقف",
    JobStatus.INTERRUPTED: "قطع‌شده",
    JobStatus.FAILED: "ناموفق",
    JobStatus.FINISHED: "پایان‌یافته",
}
STAGE_FA = {
    "prepare": "آماده‌سازی داده",
    "train": "آموزش",
    "evaluate": "ارزیابی",
    "export": "ساخت مدل ONNX",
    "": "—",
}
COUNT_FA = {
    "rows": "سطرهای خوانده‌شده",
    "invalid": "نادرست",
    "duplicate_exact": "تکراری",
    "empty": "خالی",
    "no_text": "بی‌متن",
    "too_short": "بسیار کوتاه",
    "too_long": "بسیار بلند",
    "not_persian": "غیرفارسی",
    "offensive": "ناشایست",
    "duplicate_normalized": "تکراری پس از یکسان‌سازی",
    "over_share": "بیش از سهم",
    "kept": "نگه‌داشته",
    "reading_added": "سطرهای خواندن",
    "knowledge": "بخش‌های دانش",
    "train": "آموزش",
    "test": "آزمون",
}


def fa(value: Any) -> str:
    return persian_digits(str(value))


def duration_fa(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{fa(seconds)} ثانیه"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{fa(minutes)} دقیقه" + (f" و {fa(rest)} ثانیه" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{fa(hours)} ساعت" + (f" و {fa(minutes)} دقیقه" if minutes else "")


def when_fa(timestamp: float) -> str:
    return fa(time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)))
