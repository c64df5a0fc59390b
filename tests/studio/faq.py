"""A small customer-support FAQ (written for these tests) as CSV bytes: a shop's products
crossed with the questions customers ask, so a job has enough rows for a train/test split."""

from __future__ import annotations

import csv
import io

PRODUCTS = {
    "کتری برقی": ("دو سال", "۴۸۰ هزار تومان", "سه روز کاری"),
    "جاروبرقی": ("سه سال", "۶ میلیون تومان", "دو روز کاری"),
    "اتوی بخار": ("یک سال", "۱ میلیون و ۲۰۰ هزار تومان", "سه روز کاری"),
    "چای‌ساز": ("دو سال", "۲ میلیون تومان", "چهار روز کاری"),
    "مخلوط‌کن": ("یک سال", "۹۰۰ هزار تومان", "دو روز کاری"),
    "سرخ‌کن بدون روغن": ("دو سال", "۳ میلیون و ۵۰۰ هزار تومان", "سه روز کاری"),
    "پنکهٔ رومیزی": ("یک سال", "۷۵۰ هزار تومان", "پنج روز کاری"),
    "آب‌میوه‌گیری": ("دو سال", "۱ میلیون و ۸۰۰ هزار تومان", "سه روز کاری"),
}
QUESTIONS = (
    ("گارانتی {p} چند سال است؟", "گارانتی {p} {w} است و از روز خرید حساب می‌شود."),
    ("قیمت {p} چقدر است؟", "قیمت امروز {p} {c} است."),
    ("{p} چند روزه به دستم می‌رسد؟", "{p} در {d} به نشانی شما فرستاده می‌شود."),
    (
        "اگر {p} خراب شد چه کنم؟",
        "با پشتیبانی تماس بگیرید تا {p} را در دورهٔ گارانتی رایگان تعمیر کنیم.",
    ),
    (
        "می‌توانم {p} را پس بدهم؟",
        "بله، تا هفت روز پس از تحویل، اگر {p} باز نشده باشد، پولتان را برمی‌گردانیم.",
    ),
)


def faq_csv(columns: tuple[str, str] = ("پرسش", "پاسخ")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for product, (warranty, cost, days) in PRODUCTS.items():
        for question, answer in QUESTIONS:
            values = {"p": product, "w": warranty, "c": cost, "d": days}
            writer.writerow((question.format(**values), answer.format(**values)))
    return out.getvalue().encode("utf-8")
