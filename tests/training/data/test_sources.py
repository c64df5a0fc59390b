from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from persian_chat.errors import InputError, UserError
from persian_chat.training.data.readers import read_rows
from persian_chat.training.data.records import BadRow, Example
from persian_chat.training.data.sources import (
    NEGATIVE,
    POSITIVE,
    ChatFileSource,
    Columns,
    HafezSource,
    HFSource,
    QAFileSource,
    SentimentFileSource,
    TaskSource,
    convert_row,
    describe,
    iter_source,
    parse_source_option,
)


def test_parse_source_options() -> None:
    assert parse_source_option("hafez") == HafezSource(type="hafez")
    qa = parse_source_option("type=qa,path=faq.csv,question=soal,answer=javab")
    assert isinstance(qa, QAFileSource)
    assert (qa.path, qa.question, qa.answer) == (Path("faq.csv"), "soal", "javab")
    senti = parse_source_option("type=sentiment,path=t.csv,label_map=0:منفی|1:مثبت")
    assert isinstance(senti, SentimentFileSource)
    assert senti.label_map == {"0": NEGATIVE, "1": POSITIVE}
    hf = parse_source_option("type=hf,name=org/set,split=test,format=sentiment")
    assert isinstance(hf, HFSource)
    assert (hf.name, hf.split, hf.format) == ("org/set", "test", "sentiment")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nonsense", "type"),
        ("type=qa", "path: Field required"),
        ("type=qa,path=x.csv,colour=red", "colour: Extra inputs are not permitted"),
        ("type=qa,path", "expected key=value"),
        ("type=hf,name=x,format=poetry", "format"),
    ],
)
def test_bad_source_options_name_the_field(option: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_source_option(option)


def test_convert_qa_and_sentiment_rows() -> None:
    columns = Columns(question="q", answer="a", text="t", label="l")
    qa = convert_row({"q": "پایتخت ایران کجاست؟", "a": "تهران"}, "qa", columns)
    assert [m["role"] for m in qa["messages"]] == ["user", "assistant"]
    assert qa["messages"][1]["content"] == "تهران"
    # SQuAD-style answers lists take their first text
    squad = convert_row(
        {"q": "؟", "a": {"text": ["تهران"]}}, "qa", Columns(question="q", answer="a")
    )
    assert squad["messages"][1]["content"] == "تهران"
    senti = convert_row({"t": "این فیلم عالی بود", "l": "Positive"}, "sentiment", columns)
    assert senti["messages"][1]["content"] == POSITIVE
    assert "این فیلم عالی بود" in senti["messages"][0]["content"]
    neg = convert_row({"t": "بد بود", "l": -1}, "sentiment", columns)
    assert neg["messages"][1]["content"] == NEGATIVE


@pytest.mark.parametrize(
    ("row", "fmt", "message"),
    [
        ({"question": "x"}, "qa", "missing column 'answer'"),
        ({"question": "x", "answer": None}, "qa", "column 'answer' must be text"),
        ({"text": "x", "label": "maybe"}, "sentiment", "unknown label 'maybe'"),
        ({"chat": []}, "chat", "missing key 'messages'"),
        ({"messages": [{"role": "user", "content": "x"}]}, "chat", "last turn"),
    ],
)
def test_bad_rows_say_why(row: dict[str, Any], fmt: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert_row(row, fmt, Columns())


def _collect(spec: Any) -> tuple[list[Example], list[BadRow]]:
    items, _ = iter_source(spec)
    collected = list(items)
    return (
        [i for i in collected if isinstance(i, Example)],
        [i for i in collected if isinstance(i, BadRow)],
    )


def test_jsonl_chat_source_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    good = {
        "messages": [{"role": "user", "content": "سلام"}, {"role": "assistant", "content": "درود"}]
    }
    path.write_text(
        json.dumps(good, ensure_ascii=False)
        + "\n{not json\n\n[1, 2]\n"
        + json.dumps({"messages": [{"role": "user", "content": "تنها"}]})
        + "\n",
        encoding="utf-8",
    )
    examples, bad = _collect(ChatFileSource(type="chat", path=path))
    assert len(examples) == 1 and examples[0].origin == f"{path}:1"
    assert [b.origin for b in bad] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    assert "malformed JSON" in bad[0].problem
    assert "expected a JSON object" in bad[1].problem
    assert "last turn" in bad[2].problem


def test_csv_qa_source(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text('soal,javab\nساعت کاری؟,۸ تا ۱۶\n"چند خطی\nسؤال",جواب\n', encoding="utf-8")
    examples, bad = _collect(QAFileSource(type="qa", path=path, question="soal", answer="javab"))
    assert not bad
    assert [e.conversation["messages"][0]["content"] for e in examples] == [
        "ساعت کاری؟",
        "چند خطی\nسؤال",
    ]


def test_csv_missing_column_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,reply\nا,ب\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"faq\.csv:1: missing column\(s\) answer"):
        list(read_rows(path, ["question", "answer"]))


def test_csv_row_with_extra_fields_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\nا,ب,ج\n", encoding="utf-8")
    (item,) = list(read_rows(path, ["question", "answer"]))
    assert isinstance(item, BadRow) and item.origin == f"{path}:2"


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    path.write_bytes('{"a": "سلام"}\n'.encode() + "سلام\n".encode("cp1256"))
    with pytest.raises(InputError, match=r"legacy\.jsonl:2: not valid UTF-8"):
        list(read_rows(path))


def test_json_array_source_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    path.write_text(json.dumps({"data": [{"question": "ا", "answer": "ب"}, 5]}), encoding="utf-8")
    items = list(read_rows(path))
    assert items[0] == (1, {"question": "ا", "answer": "ب"})
    assert isinstance(items[1], BadRow) and items[1].origin == f"{path}#2"
    broken = tmp_path / "broken.json"
    broken.write_text('[\n{"a": 1},\n{oops}\n]', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json:3: malformed JSON"):
        list(read_rows(broken))


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(read_rows(tmp_path / "absent.jsonl"))
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"")
    with pytest.raises(InputError, match="unsupported file type"):
        read_rows(odd)


def test_hf_save_to_disk_directory(tmp_path: Path) -> None:
    import datasets

    rows = {"text": ["این گوشی عالی است", "خیلی بد بود"], "label": [1, 0]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "saved"))
    spec = parse_source_option(
        f"type=hf,name={tmp_path / 'saved'},format=sentiment,label_map=0:منفی|1:مثبت"
    )
    examples, bad = _collect(spec)
    assert not bad
    assert [e.conversation["messages"][1]["content"] for e in examples] == [POSITIVE, NEGATIVE]
    assert examples[0].origin.endswith("[train]:0")


def test_hf_local_data_directory_via_load_dataset(tmp_path: Path) -> None:
    data_dir = tmp_path / "qa_set"
    data_dir.mkdir()
    (data_dir / "train.jsonl").write_text(
        json.dumps(
            {"question": "بلندترین قله؟", "answers": {"text": ["دماوند"]}}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    spec = HFSource(type="hf", name=str(data_dir), format="qa", answer="answers")
    examples, bad = _collect(spec)
    assert not bad
    assert examples[0].conversation["messages"][1]["content"] == "دماوند"


def test_hf_unreachable_hub_gives_a_clear_error() -> None:
    spec = HFSource(type="hf", name="persian-chat-tests/does-not-exist")
    with pytest.raises(UserError, match=r"could not load Hugging Face dataset .*hub reachable"):
        _collect(spec)


def test_hf_missing_split(tmp_path: Path) -> None:
    import datasets

    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"question": ["ا"], "answer": ["ب"]})}
    ).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(UserError, match="has no split 'validation'"):
        _collect(HFSource(type="hf", name=str(tmp_path / "dd"), split="validation"))


def test_chat_directory_reads_every_jsonl_with_domains(tmp_path: Path) -> None:
    folder = tmp_path / "conversations"
    folder.mkdir()

    def line(user: str, domain: object = None) -> str:
        row: dict[str, Any] = {
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": "پاسخ"},
            ]
        }
        if domain is not None:
            row["domain"] = domain
        return json.dumps(row, ensure_ascii=False) + "\n"

    (folder / "b_cooking.jsonl").write_text(line("آش", "cooking_food"), encoding="utf-8")
    (folder / "a_legacy.jsonl").write_text(
        line("سلام", "greetings_smalltalk") + line("بی‌برچسب") + line("عدد", 5), encoding="utf-8"
    )
    (folder / "notes.md").write_text("not a source", encoding="utf-8")
    examples, bad = _collect(ChatFileSource(type="chat", path=folder))
    assert [(e.origin, e.domain) for e in examples] == [
        (f"{folder / 'a_legacy.jsonl'}:1", "greetings_smalltalk"),
        (f"{folder / 'a_legacy.jsonl'}:2", "general"),  # no tag: the default
        (f"{folder / 'b_cooking.jsonl'}:1", "cooking_food"),
    ]
    assert [b.origin for b in bad] == [f"{folder / 'a_legacy.jsonl'}:3"]
    assert "column 'domain' must be text" in bad[0].problem


def test_empty_chat_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \.jsonl files"):
        _collect(ChatFileSource(type="chat", path=tmp_path))


def test_task_source_option() -> None:
    spec = parse_source_option("type=task,name=arithmetic")
    assert isinstance(spec, TaskSource)
    assert describe(spec) == "task:arithmetic"
    with pytest.raises(UserError, match="name"):
        parse_source_option("type=task,name=poetry")
    examples, bad = _collect(spec)
    assert not bad and {e.domain for e in examples} == {"arithmetic"}
