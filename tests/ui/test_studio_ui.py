"""The training studio in headless Chromium: a real `persian-chat studio` process and a
real `persian-chat serve` process, tiny models. Upload a CSV, map its columns, see the
preview and counts, start a job from a template, watch the loss curve grow, stop and resume
it, see it finish as a version, serve that version and chat with it. Screenshots go to
test-artifacts/ui/studio-*.png."""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server.live_server import LiveServer, start_server
from ..studio.faq import PRODUCTS, QUESTIONS
from .live_ui import running_ui
from .test_chat_ui import ARTIFACTS, CHROMIUM, browser, last_answer, send, settings  # noqa: F401

ADMIN_KEY = "studio-admin-key-0123456789"
API_KEY = "studio-api-key-0123456789"
COLUMNS = ("ردیف", "پرسش مشتری", "پاسخ ما")

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.slow,
]


def faq_with_three_columns() -> bytes:
    """The FAQ with a row-number column first, so the columns must be mapped by hand."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    number = 0
    for product, (warranty, cost, days) in PRODUCTS.items():
        for question, answer in QUESTIONS:
            number += 1
            values = {"p": product, "w": warranty, "c": cost, "d": days}
            writer.writerow((number, question.format(**values), answer.format(**values)))
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def server(tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("studio-server") / "serve.log"
    env = {"PERSIAN_CHAT_ADMIN_KEY": ADMIN_KEY, "PERSIAN_CHAT_API_KEYS": API_KEY}
    live = start_server(tiny_served_dir, log, env)
    yield live
    live.stop()


@contextlib.contextmanager
def running_studio(
    api_url: str, repo: Path, work: Path, host: str = "127.0.0.1"
) -> Iterator[tuple[str, Path]]:
    """`persian-chat studio` as its own process, its files in work/home."""
    args = ["--api-url", api_url, "--home", str(work / "home")]
    env = {"PERSIAN_CHAT_ADMIN_KEY": ADMIN_KEY}
    with running_ui("studio", args, work / "studio.log", host, env, repo) as url:
        yield url, work / "home"


@pytest.fixture(scope="module")
def studio(
    server: LiveServer, repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    with running_studio(server.url, repo, tmp_path_factory.mktemp("studio")) as running:
        yield running


@pytest.fixture
def page(browser: Any, studio: tuple[str, Path]) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fa-IR")
    page = context.new_page()
    page.goto(f"{studio[0]}/studio")
    page.wait_for_selector("#studio-upload")
    yield page
    context.close()


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"studio-{name}.png"), full_page=True)


def upload(page: Any, name: str, data: bytes, zone: str = "#studio-upload") -> None:
    files = [{"name": name, "mimeType": "text/plain", "buffer": data}]
    page.set_input_files(f"{zone} input[type=file]", files=files)


def text(page: Any, selector: str) -> str:
    return str(page.inner_text(selector))


GUIDE = """# ساعت کاری فروشگاه

فروشگاه از شنبه تا پنجشنبه از ساعت ۹ صبح تا ۶ عصر باز است و جمعه‌ها تعطیل است.

# هزینهٔ ارسال

ارسال سفارش‌های بالای دو میلیون تومان رایگان است.
"""


def wait_text(page: Any, selector: str, expected: str, timeout: float = 300) -> None:
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
        arg=[selector, expected],
        timeout=timeout * 1000,
    )


def test_bad_upload_is_refused_in_persian_with_its_line(
    page: Any, studio: tuple[str, Path]
) -> None:
    data = "پرسش,پاسخ\nسلام,درود\n".encode() + "خوبم,".encode("cp1256") + b"\n"
    upload(page, "faq.csv", data)
    wait_text(page, "#upload-error", "UTF-8", 30)
    message = text(page, "#upload-error")
    assert "faq.csv" in message and "خط ۳" in message
    upload(page, "empty.csv", b"")
    wait_text(page, "#upload-error", "خالی", 30)
    assert not (studio[1] / "datasets").exists() or not any((studio[1] / "datasets").iterdir())


def test_upload_train_stop_resume_serve_and_chat(
    page: Any, studio: tuple[str, Path], server: LiveServer, tiny_gpt2_dir: Path
) -> None:
    home = studio[1]
    upload(page, "faq.csv", faq_with_three_columns())
    wait_text(page, "#preview-title", "۴۰", 60)
    assert "گارانتی کتری برقی" in text(page, "#preview-table")
    page.select_option("#question-column", "پرسش مشتری")
    page.select_option("#answer-column", "پاسخ ما")
    upload(page, "راهنما.txt", b"\xff", "#knowledge-upload")
    wait_text(page, "#knowledge-error", "UTF-8", 30)
    assert "خط ۱" in text(page, "#knowledge-error")
    upload(page, "راهنما.md", GUIDE.encode(), "#knowledge-upload")
    wait_text(page, "#knowledge-docs", "راهنما.md: ۲ بخش", 30)
    page.click("#knowledge-preview summary")
    assert "جمعه‌ها تعطیل" in text(page, "#knowledge-preview")
    page.click("#save-dataset")
    wait_text(page, "#dataset-counts", "نگه‌داشته", 120)
    assert "سطرهای خوانده‌شده: ۴۰" in text(page, "#dataset-counts")
    page.fill("#knowledge-query", "جمعه فروشگاه بازه؟")
    page.click("#knowledge-search")
    wait_text(page, "#knowledge-hits", "ساعت کاری فروشگاه", 30)
    shoot(page, "data")
    page.fill("#knowledge-query", "بلیت هواپیما به پاریس چند است؟")
    page.click("#knowledge-search")
    wait_text(page, "#knowledge-hits", "نمی‌داند", 30)

    page.click("#advanced summary")
    for name, value in (
        ("base_model", str(tiny_gpt2_dir)),
        ("max_steps", "1500"),
        ("batch_size", "2"),
        ("save_steps", "5"),
        ("max_length", "128"),
    ):
        page.fill(f"#advanced-{name}", value)
    page.select_option("#advanced-trim_vocab", "no")
    page.select_option("#advanced-packing", "no")
    page.click("#start-support")
    wait_text(page, "#job-step", "گام", 120)
    first = text(page, "#job-step")
    page.wait_for_function(
        "t => document.querySelector('#job-step').innerText !== t", arg=first, timeout=60000
    )  # the loss curve grows while the job runs
    assert page.locator("#job-progress .recharts-line path").count() >= 1
    wait_text(page, "#job-stage", "آموزش", 5)
    shoot(page, "training")
    checkpoints = home / "jobs" / "1" / "checkpoint.checkpoints"
    deadline = time.monotonic() + 120
    while not any(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert time.monotonic() < deadline
        time.sleep(0.5)

    page.click(".stop-job")
    wait_text(page, "#job-status", "متوقف", 60)
    stopped = text(page, "#job-step")
    page.click(".resume-job")
    wait_text(page, "#job-status", "در حال اجرا", 60)
    wait_text(page, "#job-status", "پایان‌یافته", 400)
    assert stopped != text(page, "#job-step")
    page.wait_for_selector("[data-version='support-v1']", timeout=30000)
    shoot(page, "finished")

    page.click("[data-version='support-v1'] .try-version")  # a test chat, not served
    wait_text(page, "#trial-title", "support-v1", 60)
    page.fill("#trial-input", "گارانتی کتری برقی چند سال است؟")
    page.click("#trial-send")
    page.wait_for_selector(".trial-answer", timeout=60000)
    assert page.inner_text(".trial-answer").strip()
    assert httpx.get(f"{server.url}/health").json()["model"] == "served"  # untouched
    shoot(page, "trial")

    page.click("[data-version='support-v1'] .serve-version")  # beside the served model
    wait_text(page, "#served-model", "support-v1", 120)
    models = httpx.get(
        f"{server.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}
    ).json()
    assert [m["id"] for m in models["data"]] == ["served", "support-v1"]
    assert httpx.get(f"{server.url}/health").json()["model"] == "served"  # still the first
    shoot(page, "served")

    page.click("#try-chat")
    page.wait_for_selector("#chat-input[data-ready='true']", timeout=60000)
    settings(
        page, **{"endpoint-input": server.url, "api-key-input": API_KEY, "max-tokens-input": "32"}
    )
    page.click("#settings-button")  # the model picker lists the server's models
    page.wait_for_selector("#model-select option[value='support-v1']", state="attached")
    page.select_option("#model-select", "support-v1")
    shoot(page, "model-picker")
    page.click("#settings-close")
    send(page, "گارانتی کتری برقی چند سال است؟")
    page.wait_for_selector("#send-button", timeout=60000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.bubble.assistant .markdown')].some("
        "b => b.innerText.trim().length > 0)",
        timeout=60000,
    )
    assert last_answer(page)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'model="support-v1"' in metrics


def test_beyond_loopback_the_studio_asks_for_the_admin_key(
    browser: Any,  # noqa: F811
    server: LiveServer,
    repo: Path,
    tmp_path: Path,
) -> None:
    """127.0.0.2 is not 127.0.0.1 to the studio (only the loopback names are trusted), yet
    it stays on this machine: the locked page, a wrong key, the right key."""
    with running_studio(server.url, repo, tmp_path, host="127.0.0.2") as (url, _):
        context = browser.new_context(locale="fa-IR")
        page = context.new_page()
        page.goto(f"{url}/studio")
        page.wait_for_selector("#admin-key")
        assert page.locator("#studio-upload").count() == 0
        page.fill("#admin-key", "not-the-admin-key-at-all")
        page.click("#unlock")
        page.wait_for_selector("[data-sonner-toast]", timeout=15000)
        assert "کلید مدیر درست نیست" in page.inner_text("[data-sonner-toast]")
        assert page.locator("#studio-upload").count() == 0
        page.fill("#admin-key", ADMIN_KEY)
        page.click("#unlock")
        page.wait_for_selector("#studio-upload", timeout=15000)
        shoot(page, "unlocked")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing sideways
        page.wait_for_timeout(300)
        shoot(page, "mobile")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, width
        context.close()
        log = httpx.get(f"{url}/studio/download/job/1/log")
        assert log.status_code == 401 and log.json()["error"]["param"] == "token"
