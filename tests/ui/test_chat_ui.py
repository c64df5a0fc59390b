"""The real Reflex UI (production build) in headless Chromium, against a real server running
a tiny exported model. Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from persian_chat.knowledge import Passage

from ..server.live_server import start_in_process
from .live_ui import running_ui

CHROMIUM = "/usr/bin/chromium"
KEY = "ui-test-key-0123456789abcdef"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
QUESTION = "سلام! لطفاً دربارهٔ حافظ بگو."
HAFEZ = Passage(
    "poets:hafez", "حافظ شیرازی", "حافظ شاعر غزل‌سرای شیراز است.", "handwritten", "culture"
)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("npm") is None,
    reason="needs Debian's chromium and npm (.ci/run installs both)",
)


@pytest.fixture(scope="module")
def api(
    tiny_served_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    """The real server app on loopback, each decoding step slowed to 20 ms so that an answer
    streams for a few seconds and can be stopped; its knowledge base has a passage on Hafez,
    so the first question's answer has a source (a one-passage base gives the words it lacks
    most of the idf: a low line)."""
    knowledge = tmp_path_factory.mktemp("knowledge") / "passages.jsonl"
    knowledge.write_text(json.dumps(HAFEZ.as_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    server = start_in_process(
        tiny_served_dir,
        0.02,
        api_keys=frozenset({KEY}),
        rate_limit_per_minute=0,
        knowledge=knowledge,
        knowledge_tokens=128,
        knowledge_min_coverage=0.1,
    )
    found = httpx.post(
        f"{server.url}/knowledge/search",
        json={"query": QUESTION},
        headers={"authorization": f"Bearer {KEY}"},
    ).json()
    assert [hit["id"] for hit in found["hits"]] == [HAFEZ.id], found
    yield server.url, server.runtime
    server.stop()


@pytest.fixture(scope="module")
def ui(api: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    with running_ui("ui", ["--api-url", api[0]], log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, ui: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fa-IR")
    page = context.new_page()
    page.goto(ui)
    page.wait_for_selector("#chat-input[data-ready='true']", timeout=60000)
    yield page
    context.close()


def settings(page: Any, **fields: str) -> None:
    page.click("#settings-button")
    for field, value in fields.items():
        page.fill(f"#{field}", value)
    page.click("#settings-close")


def send(page: Any, text: str) -> None:
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")


# records the answer's length at each change of the page while it streams
WATCH_ANSWER = """(() => {
  window.answerLengths = [];
  const answer = () => {
    const b = document.querySelectorAll('.bubble.assistant .markdown');
    return b.length ? b[b.length - 1].innerText.length : 0;
  };
  new MutationObserver(() => window.answerLengths.push(answer()))
    .observe(document.body, {subtree: true, childList: true, characterData: true});
})()"""


def last_answer(page: Any) -> str:
    return str(
        page.evaluate(
            "(() => { const b = document.querySelectorAll('.bubble.assistant .markdown');"
            " return b.length ? b[b.length - 1].innerText : ''; })()"
        )
    )


def toast_text(page: Any) -> str:
    page.wait_for_selector("[data-sonner-toast]", timeout=15000)
    return str(page.inner_text("[data-sonner-toast]"))


CONTRAST = """(() => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (el) => { const s = getComputedStyle(el);
    const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05); };
  return [...document.querySelectorAll('.bubble')].map(ratio);
})()"""


def assert_readable(page: Any) -> None:
    """WCAG AA: text in every bubble has a contrast ratio of at least 4.5 : 1."""
    ratios = page.evaluate(CONTRAST)
    assert ratios and min(ratios) >= 4.5, ratios


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_rtl_persian_font_and_accessible_controls(page: Any) -> None:
    facts = page.evaluate(
        "(() => ({lang: document.documentElement.lang, dir: document.documentElement.dir,"
        " direction: getComputedStyle(document.body).direction,"
        " composer: getComputedStyle(document.getElementById('chat-input')).direction,"
        " font: getComputedStyle(document.body).fontFamily,"
        " loaded: document.fonts.check('16px Vazirmatn'),"
        " log: document.querySelector('[role=log]').getAttribute('aria-live'),"
        " unnamed: [...document.querySelectorAll('button')].filter("
        "   b => !(b.getAttribute('aria-label') || b.innerText.trim())).length}))()"
    )
    assert facts["lang"] == "fa" and facts["dir"] == "rtl" and facts["direction"] == "rtl"
    assert facts["font"].startswith("Vazirmatn") and facts["loaded"] is True
    assert facts["log"] == "polite" and facts["unnamed"] == 0
    page.fill("#chat-input", "خط اول")
    page.press("#chat-input", "Shift+Enter")
    page.type("#chat-input", "خط دوم")
    assert page.input_value("#chat-input") == "خط اول\nخط دوم"
    assert page.locator(".bubble").count() == 0  # Shift+Enter did not send


def test_errors_toast_in_persian_and_keep_the_question(page: Any, api: tuple[str, Any]) -> None:
    send(page, QUESTION)  # no API key yet: the server answers 401
    assert "کلید API" in toast_text(page)
    page.wait_for_function(f"document.getElementById('chat-input').value === {QUESTION!r}")
    assert page.locator(".bubble").count() == 0
    settings(page, **{"endpoint-input": "http://127.0.0.1:9", "api-key-input": KEY})
    page.wait_for_selector("[data-sonner-toast]", state="detached", timeout=20000)
    page.press("#chat-input", "Enter")
    assert "سرور در دسترس نیست" in toast_text(page)
    assert page.input_value("#chat-input") == QUESTION


def test_stream_stop_reload_theme_and_screenshots(page: Any, api: tuple[str, Any]) -> None:
    url, runtime = api
    settings(page, **{"endpoint-input": url, "api-key-input": KEY, "max-tokens-input": "64"})
    send(page, QUESTION)
    page.wait_for_selector(".bubble.assistant .markdown", timeout=30000)
    page.evaluate(WATCH_ANSWER)
    page.wait_for_selector("#send-button", timeout=30000)  # the answer finished
    lengths = page.evaluate("window.answerLengths")
    assert len(set(lengths)) >= 3, lengths  # the text grew piece by piece, not all at once
    answer = last_answer(page)
    assert answer
    sources = page.locator(".bubble.assistant details.sources").first
    assert sources.get_attribute("dir") == "rtl" and sources.get_attribute("lang") == "fa"
    assert not sources.locator("li").first.is_visible()  # folded until asked
    sources.locator("summary").click()
    assert sources.locator("li").first.inner_text() == "حافظ شیرازی"
    assert_readable(page)
    shoot(page, "desktop-light")

    settings(page, **{"max-tokens-input": "1024"})
    send(page, "یک داستان بلند بگو.")
    page.wait_for_function(
        "document.querySelectorAll('.bubble.assistant .markdown').length === 2 &&"
        " document.querySelectorAll('.bubble.assistant .markdown')[1].innerText.length > 5"
    )
    page.keyboard.press("Escape")  # same as the Stop button
    page.wait_for_selector("#send-button", timeout=10000)
    stopped = last_answer(page)
    time.sleep(1)
    assert last_answer(page) == stopped
    deadline = time.monotonic() + 10
    while runtime.engine.active:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped_line = 'persian_chat_requests_total{route="/api/chat",status="499"}'
    while stopped_line not in httpx.get(f"{url}/metrics").text:  # logged as the stream ends,
        assert time.monotonic() < deadline  # just after the engine lets the row go
        time.sleep(0.05)

    page.reload()
    page.wait_for_selector(".bubble.assistant")
    assert last_answer(page) == stopped
    assert page.locator("#history .history-item").count() >= 1

    page.click("#regenerate-button")  # a new answer replaces the last one
    page.wait_for_selector("#stop-button")
    page.wait_for_selector("#send-button", timeout=60000)
    assert page.locator(".bubble.assistant").count() == 2 and last_answer(page)
    page.click("#new-chat-button")
    page.wait_for_function("document.querySelectorAll('.bubble').length === 0")
    page.locator("#history .history-item").first.click()
    page.wait_for_function("document.querySelectorAll('.bubble.assistant').length === 2")

    page.click("#theme-button")
    page.wait_for_function("document.documentElement.classList.contains('dark')")
    page.reload()
    page.wait_for_selector(".bubble.assistant")
    assert page.evaluate("document.documentElement.classList.contains('dark')")
    assert_readable(page)
    shoot(page, "desktop-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "phone-dark")
    page.click("#theme-button")
    page.wait_for_function("!document.documentElement.classList.contains('dark')")
    shoot(page, "phone-light")
    # RTL in the bubbles: the user's bubble sits on the right, the assistant's on the left
    user_box = page.locator(".bubble.user").first.bounding_box()
    assistant_box = page.locator(".bubble.assistant").first.bounding_box()
    assert user_box["x"] + user_box["width"] > assistant_box["x"] + assistant_box["width"]


def test_edit_and_resend_then_export_and_import_in_another_browser(
    page: Any, api: tuple[str, Any], browser: Any, ui: str, tmp_path: Path
) -> None:
    url, _ = api
    settings(page, **{"endpoint-input": url, "api-key-input": KEY, "max-tokens-input": "16"})
    for number, question in enumerate(("پرسش نخست", "پرسش دوم"), 1):
        send(page, question)
        page.wait_for_function(
            f"document.querySelectorAll('.bubble.assistant').length === {number}"
            " && !!document.getElementById('send-button')",
            timeout=60000,
        )
    # editing the first question replaces it and every answer after it
    page.locator(".bubble.user .edit-button").first.click()
    assert page.input_value("#edit-input") == "پرسش نخست"
    page.fill("#edit-input", "پرسش ویرایش‌شده")
    page.click("#edit-send")
    page.wait_for_function(
        "document.querySelectorAll('.bubble.user').length === 1"
        " && document.querySelectorAll('.bubble.assistant').length === 1"
        " && !!document.getElementById('send-button') && !!document.querySelector("
        "'.bubble.assistant .markdown') && document.querySelector("
        "'.bubble.assistant .markdown').innerText.length > 0",
        timeout=60000,
    )
    assert page.inner_text(".bubble.user .user-text") == "پرسش ویرایش‌شده"
    shoot(page, "edited")

    with page.expect_download() as download:
        page.click("#export-button")
    exported = tmp_path / "conversations.json"
    download.value.save_as(exported)
    [conversation] = json.loads(exported.read_text(encoding="utf-8"))["conversations"]
    assert conversation["messages"][0]["content"] == "پرسش ویرایش‌شده"
    assert len(conversation["messages"]) == 2

    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fa-IR")
    try:
        second = other.new_page()
        second.goto(ui)
        second.wait_for_selector("#chat-input[data-ready='true']", timeout=60000)
        assert second.locator("#history .history-item").count() == 0
        bad = tmp_path / "bad.json"
        bad.write_text("{not json", encoding="utf-8")
        second.set_input_files("#import-upload input[type=file]", str(bad))
        assert "bad.json" in toast_text(second) and "JSON" in toast_text(second)
        assert second.locator("#history .history-item").count() == 0  # nothing imported
        second.set_input_files("#import-upload input[type=file]", str(exported))
        second.wait_for_function("document.querySelectorAll('#history .history-item').length === 1")
        second.locator("#history .history-item").first.click()
        second.wait_for_selector(".bubble.assistant")
        assert second.inner_text(".bubble.user .user-text") == "پرسش ویرایش‌شده"
        assert last_answer(second)  # the imported answer is shown
    finally:
        other.close()


class CuttingProxy:
    """A TCP proxy to the API that cuts the first connection that streams three tokens (the
    UI's other requests, such as the model list, pass), as a phone changing networks would:
    both sockets are closed mid-answer."""

    def __init__(self, target: str) -> None:
        self.target = int(target.rsplit(":", 1)[1])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                self.connections += 1
                upstream = socket.create_connection(("127.0.0.1", self.target))
                cut = True  # the first answer's connection: see _pipe
                threading.Thread(
                    target=self._pipe, args=(client, upstream, False), daemon=True
                ).start()
                threading.Thread(
                    target=self._pipe, args=(upstream, client, cut), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, cut: bool) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
                seen += data if cut and not self.cuts else b""
                if cut and not self.cuts and seen.count(b'data: {"token"') >= 3:
                    self.cuts += 1
                    for end in (source, sink):
                        end.shutdown(socket.SHUT_RDWR)
                        end.close()
                    return
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


def test_a_connection_cut_mid_answer_ends_in_the_full_answer(
    page: Any, api: tuple[str, Any]
) -> None:
    url, _runtime = api
    proxy = CuttingProxy(url)
    try:
        settings(
            page, **{"endpoint-input": proxy.url, "api-key-input": KEY, "max-tokens-input": "48"}
        )
        send(page, QUESTION)
        page.wait_for_selector("#stop-button")
        page.wait_for_selector("#send-button", timeout=60000)
        assert proxy.cuts == 1 and proxy.connections >= 2  # cut, then resumed
        assert page.locator("[data-sonner-toast]").count() == 0  # no error shown
        assert page.inner_text("[role=status]") == "پاسخ کامل شد"
        assert last_answer(page)
    finally:
        proxy.close()
