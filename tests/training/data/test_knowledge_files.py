from __future__ import annotations

import json
from pathlib import Path

import pytest

from persian_chat.errors import InputError
from persian_chat.training.data.knowledge_files import (
    MAX_PASSAGE_CHARS,
    document_passages,
    read_knowledge_file,
)
from persian_chat.training.data.prepare import PrepareConfig, prepare
from persian_chat.training.data.sources import ChatFileSource


def same(text: str) -> str:
    return text.strip()


GUIDE = """# راهنمای فروشگاه

فروشگاه ما از شنبه تا پنجشنبه، ساعت ۹ صبح تا ۶ عصر باز است.

## گارانتی

همهٔ کتری‌های برقی دو سال گارانتی دارند.
گارانتی با فاکتور خرید معتبر است.

- تعویض کالا تا هفت روز ممکن است.
"""


def test_markdown_sections_become_passages_titled_by_their_heading() -> None:
    passages = document_passages(GUIDE.encode(), "shop.md", same)
    assert [p.title for p in passages] == ["راهنمای فروشگاه", "گارانتی"]
    assert "ساعت ۹ صبح" in passages[0].text
    warranty = passages[1].text
    assert "دو سال گارانتی" in warranty and "تعویض کالا تا هفت روز" in warranty
    assert not warranty.startswith("-") and "\n- " not in warranty  # list markers dropped
    assert {p.source for p in passages} == {"uploads"}
    assert len({p.id for p in passages}) == 2 and all("shop.md" in p.id for p in passages)


def test_a_plain_text_is_titled_by_its_file_and_long_text_is_cut_at_sentences() -> None:
    sentence = "این جمله دربارهٔ نگهداری از گیاهان آپارتمانی در زمستان است. "
    text = sentence * 40  # one paragraph of ~2,400 characters
    passages = document_passages(text.encode(), "گیاهان_خانگی.txt", same)
    assert len(passages) >= 4
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert all(p.text.endswith("است.") for p in passages)  # never cut inside a sentence
    assert {p.title for p in passages} == {"گیاهان خانگی"}


def test_jsonl_rows_are_passages() -> None:
    rows = [{"title": "ساعت کاری", "text": "از ۹ تا ۶."}, {"title": "آدرس", "text": "تهران."}]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    passages = document_passages(data, "kb.jsonl", same)
    assert [(p.title, p.text) for p in passages] == [
        ("ساعت کاری", "از ۹ تا ۶."),
        ("آدرس", "تهران."),
    ]


@pytest.mark.parametrize(
    ("name", "data", "line", "problem"),
    [
        ("a.txt", "سلام\nخوب\n".encode() + "بد".encode("cp1256"), 3, "not UTF-8"),
        ("a.jsonl", b'{"title": "x", "text": "y"}\n{"title": 1}\n', 2, '"title" and "text"'),
        ("a.jsonl", b'{"title": "x", "text": "y"}\n{broken\n', 2, "malformed JSON"),
        ("a.md", b"# only a heading\n\n", None, "no text"),
        ("a.pdf", b"%PDF", None, "knowledge files are"),
    ],
)
def test_bad_documents_name_the_file_and_line(
    name: str, data: bytes, line: int | None, problem: str
) -> None:
    with pytest.raises(InputError) as caught:
        document_passages(data, name, same)
    assert caught.value.path == name and caught.value.line == line
    assert problem in caught.value.problem


def test_a_file_on_disk_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes("درست\n".encode() + b"\xff\n")
    with pytest.raises(InputError, match=rf"{path}:2: not UTF-8"):
        read_knowledge_file(path, same)


def test_prepare_adds_knowledge_files_to_the_knowledge_base(tmp_path: Path) -> None:
    chat = tmp_path / "chat.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"پرسش {i} دربارهٔ فروشگاه"},
                {"role": "assistant", "content": f"پاسخ شمارهٔ {i}"},
            ]
        }
        for i in range(12)
    ]
    chat.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    guide = tmp_path / "shop.md"
    guide.write_text(GUIDE, encoding="utf-8")
    config = PrepareConfig(
        sources=[ChatFileSource(type="chat", path=chat)],
        output_dir=tmp_path / "out",
        knowledge=False,
        knowledge_files=[guide],
    )
    result = prepare(config)
    titles = {p.title for p in result.knowledge}
    assert {"راهنمای فروشگاه", "گارانتی"} <= titles
    assert result.manifest["knowledge"]["sources"] == {"uploads": 2}
