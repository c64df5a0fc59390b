"""Structured output on a served model: Persian messages from which the model must extract
a city and a date as JSON (a schema through `response_format`), through a live server.

Reports how many answers are valid JSON of the schema (it must be all: the mask makes them
so), field accuracy (the city and the date as the message gives them), and what the mask
costs: decode tokens/s with the schema against the same prompts answered in free text,
interleaved, one request at a time.

The 50 messages are generated from the small lists below (written for this project).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import load_average, machine_info, publish

CITIES = ("تهران", "شیراز", "اصفهان", "تبریز", "مشهد", "یزد", "رشت", "کرمان", "اهواز", "قم")
DATES = ("۵ فروردین", "۱۲ اردیبهشت", "۳ خرداد", "۲۰ تیر", "۹ مرداد", "۱۷ شهریور", "۱ مهر")
TEMPLATES = (
    "سلام، من {date} به {city} می‌رسم. لطفاً شهر و تاریخ را بنویس.",
    "جلسهٔ بعدی ما {date} در {city} برگزار می‌شود.",
    "بلیت قطارم برای {city} است و تاریخ حرکت {date} است.",
    "مادربزرگم {date} از {city} به دیدن ما می‌آید.",
    "همایش کتاب امسال {date} در شهر {city} است.",
)
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 20},
        "date": {"type": "string", "maxLength": 20},
    },
    "required": ["city", "date"],
    "additionalProperties": False,
}
INSTRUCTION = "شهر و تاریخ این پیام را به صورت JSON بنویس: "


def messages(count: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """`count` (message, city, date) triples, the same for a seed."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        city, date = rng.choice(CITIES), rng.choice(DATES)
        template = TEMPLATES[index % len(TEMPLATES)]
        out.append((template.format(city=city, date=date), city, date))
    return out


def _ask(url: str, text: str, schema: bool, max_tokens: int) -> dict[str, Any]:
    import httpx

    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": INSTRUCTION + text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": False,
    }
    if schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "trip", "schema": SCHEMA, "strict": True},
        }
    reply = httpx.post(url, json=body, timeout=300)
    reply.raise_for_status()
    return dict(reply.json())


def measure(model: Path, count: int, max_tokens: int, threads: int) -> dict[str, Any]:
    import jsonschema_rs

    from persian_chat.benchmarks.serving_load import running_server
    from persian_chat.normalize import PersianNormalizer

    normalize = PersianNormalizer().normalize
    rates: dict[str, list[float]] = {"schema": [], "free": []}
    valid = city_right = date_right = 0
    examples: list[dict[str, Any]] = []
    with running_server(model, threads, 1, ("--prompt-cache-mb", "0")) as base:
        url = f"{base}/api/chat"
        _ask(url, "سلام", False, 4)  # warm-up
        for text, city, date in messages(count):
            for label in ("schema", "free"):
                reply = _ask(url, text, label == "schema", max_tokens)
                rate = reply["timings"]["decode_tokens_per_s"]
                if rate:
                    rates[label].append(rate)
                if label != "schema":
                    continue
                content = reply["message"]["content"]
                try:
                    answer = json.loads(content)
                except json.JSONDecodeError:
                    answer = None
                ok = answer is not None and jsonschema_rs.is_valid(SCHEMA, answer)
                valid += ok
                if ok:
                    city_right += normalize(answer["city"]).strip() == normalize(city)
                    date_right += normalize(answer["date"]).strip() == normalize(date)
                if len(examples) < 5:
                    examples.append({"message": text, "answer": content})
    median = {label: statistics.median(v) for label, v in rates.items() if v}
    return {
        "prompts": count,
        "valid_json": valid,
        "city_accuracy": round(city_right / count, 3),
        "date_accuracy": round(date_right / count, 3),
        "decode_tokens_per_s_median": {k: round(v, 1) for k, v in median.items()},
        "ratio": round(median["schema"] / median["free"], 3) if len(median) == 2 else None,
        "examples": examples,
    }


def describe(result: dict[str, Any]) -> str:
    return (
        f"{result['valid_json']} of {result['prompts']} answers are valid JSON of the schema; "
        f"city right in {result['city_accuracy']:.0%}, date in {result['date_accuracy']:.0%}. "
        f"Decode with the schema's mask: {result['decode_tokens_per_s_median'].get('schema')} "
        f"tokens/s against {result['decode_tokens_per_s_median'].get('free')} in free text "
        f"(ratio {result['ratio']}), greedy, one request at a time, "
        f"{result['machine'].get('cpu', '')}."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat-onnx-int8"))
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="structured")
    args = parser.parse_args(argv)
    load_before = load_average()
    result = measure(args.model, args.prompts, args.max_tokens, args.threads)
    result.update(machine=machine_info(), load_before=load_before, load_after=load_average())
    result.update(title="Structured output", description=describe(result))
    result["table"] = {
        "header": ["message", "answer (JSON)"],
        "rows": [[e["message"], f"`{e['answer']}`"] for e in result["examples"]],
    }
    print(result["description"])
    publish(args.name, result)
