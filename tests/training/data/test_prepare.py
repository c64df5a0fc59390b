from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from persian_chat.chat_format import validate_conversation
from persian_chat.checksums import verify_sha256sums
from persian_chat.errors import InputError, UserError
from persian_chat.training.data.cleaning import split_group
from persian_chat.training.data.prepare import (
    PrepareConfig,
    add_arguments,
    config_from_args,
    prepare,
    write_outputs,
)
from persian_chat.training.data.sources import (
    ChatFileSource,
    QAFileSource,
    SentimentFileSource,
    TaskSource,
    describe,
)
from persian_chat.training.data.split import is_test


def chat(user: str, assistant: str) -> str:
    record = {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    chat_lines = [
        chat("سلام، خوبی؟", "ممنون، خوبم. شما چطورید؟"),  # kept
        chat("سلام، خوبی؟", "ممنون، خوبم. شما چطورید؟"),  # duplicate_exact
        chat("سلام خوبی", "ممنون خوبم شما چطورید"),  # duplicate_normalized
        chat("😀😀", "خنده‌دار بود"),  # no_text
        chat("What time is it?", "I do not know, sorry."),  # not_persian
        chat("تو خیلی احمق هستی", "لطفاً محترمانه صحبت کنیم."),  # offensive
        "{broken json",  # invalid
        chat("بلندترین قلهٔ ایران کدام است؟", "دماوند"),  # kept
        chat("پایتخت ژاپن کجاست؟ https://example.com", "توکیو"),  # kept, URL removed
    ] + [chat(f"سؤال شمارهٔ {i} دربارهٔ تاریخ ایران", f"پاسخ شمارهٔ {i}") for i in range(40)]
    chat_path = tmp_path / "chat.jsonl"
    chat_path.write_text("\n".join(chat_lines) + "\n", encoding="utf-8")
    qa_path = tmp_path / "faq.csv"
    qa_path.write_text(
        "soal,javab\nساعت کاری کتابخانه چیست؟,از ۸ صبح تا ۸ شب\nآ,ب\n", encoding="utf-8"
    )
    senti_path = tmp_path / "tweets.csv"
    senti_path.write_text(
        "text,label\n@user این فیلم عالی بود #سینما,1\nغذایش سرد و بی‌مزه بود,0\nمعمولی,2\n",
        encoding="utf-8",
    )
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("# test list\nاحمق\n", encoding="utf-8")
    return {"chat": chat_path, "qa": qa_path, "senti": senti_path, "blocklist": blocklist}


def make_config(sources: dict[str, Path], out: Path, **overrides: object) -> PrepareConfig:
    return PrepareConfig(
        sources=[
            ChatFileSource(type="chat", path=sources["chat"]),
            QAFileSource(type="qa", path=sources["qa"], question="soal", answer="javab"),
            SentimentFileSource(
                type="sentiment", path=sources["senti"], label_map={"0": "منفی", "1": "مثبت"}
            ),
        ],
        output_dir=out,
        blocklist=sources["blocklist"],
        test_ratio=0.25,
        **{"knowledge": False, **overrides},  # type: ignore[arg-type]
    )


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepare_counts_every_step(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = make_config(sources, out)
    result = prepare(config)
    write_outputs(result, out)

    counts = result.manifest["counts"]
    assert counts["rows"] == 49 + 2 + 3
    assert counts["duplicate_exact"] == 1
    assert counts["duplicate_normalized"] == 1
    assert counts["no_text"] == 1
    assert counts["not_persian"] == 1
    assert counts["offensive"] == 1
    assert counts["too_short"] == 1  # "آ" -> "ب"
    assert counts["invalid"] == 2  # broken JSON line, unknown label "2"
    assert counts["kept"] == counts["train"] + counts["test"] == 46
    assert counts["train"] > 0 and counts["test"] > 0
    assert sum(counts[k] for k in counts if k not in ("rows", "kept", "train", "test")) + 46 == 54
    samples = result.manifest["dropped_examples"]
    assert samples["invalid"][0].startswith(f"{sources['chat']}:7: malformed JSON")
    assert any("tweets.csv:4: unknown label '2'" in s for s in samples["invalid"])

    verify_sha256sums(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["train.jsonl"]["records"] == counts["train"]
    assert [s["source"] for s in manifest["sources"]] == [
        f"chat:{sources['chat']}",
        f"qa:{sources['qa']}",
        f"sentiment:{sources['senti']}",
    ]

    train, test = read_jsonl(out / "train.jsonl"), read_jsonl(out / "test.jsonl")
    texts = json.dumps(train + test, ensure_ascii=False)
    assert "https://" not in texts and "@user" not in texts and "#سینما" not in texts
    assert "سینما" in texts and "مثبت" in texts
    for record in train + test:
        conversation = validate_conversation(record)
        assert conversation["messages"][0]["role"] == "system"
        assert set(record) - {"expected"} == {"messages", "source", "domain"}
    by_source = {r["source"]: r for r in train + test}
    assert by_source[f"qa:{sources['qa']}"]["domain"] == "qa"
    sentiment = [r for r in train + test if r["source"] == f"sentiment:{sources['senti']}"]
    assert {r["domain"] for r in sentiment} == {"sentiment"}
    assert all(r["expected"] == r["messages"][-1]["content"] for r in sentiment)  # type: ignore[index]
    train_groups = {split_group(validate_conversation(r)) for r in train}
    test_groups = {split_group(validate_conversation(r)) for r in test}
    assert not train_groups & test_groups


def test_same_user_text_never_lands_on_both_sides(tmp_path: Path, sources: dict[str, Path]) -> None:
    path = tmp_path / "same.jsonl"
    lines = [chat(f"سؤال {i}", f"پاسخ {variant} برای {i}") for i in range(60) for variant in "الف"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = PrepareConfig(
        sources=[ChatFileSource(type="chat", path=path)],
        blocklist=sources["blocklist"],
        knowledge=False,
        test_ratio=0.3,
    )
    result = prepare(config)
    test_users = {r["messages"][1]["content"] for r in result.test}
    train_users = {r["messages"][1]["content"] for r in result.train}
    assert test_users and train_users and not test_users & train_users
    repeated = result.manifest["repeated_questions"]
    assert repeated["kept"] == 120 and repeated["examples"][0] == f"{path}:2"  # 3 variants each


def domain_line(domain: str, user: str, assistant: str) -> str:
    record = json.loads(chat(user, assistant))
    return json.dumps({"domain": domain, **record}, ensure_ascii=False)


def test_prepare_reads_a_conversations_folder_with_domains(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "conversations"
    folder.mkdir()
    cooking = [
        domain_line("cooking_food", f"آش شمارهٔ {i} را چطور بپزم؟", "با حوصله.") for i in range(30)
    ]
    (folder / "cooking_food.jsonl").write_text("\n".join(cooking) + "\n", encoding="utf-8")
    legacy = [
        domain_line("greetings_smalltalk", f"سلام شمارهٔ {i}، خوبی؟", "ممنون، خوبم.")
        for i in range(30)
    ]
    legacy.append(cooking[0])  # the same conversation in another file: counted, dropped
    legacy.append(cooking[1].replace("بپزم؟", "بپزم"))  # same after normalization
    (folder / "legacy.jsonl").write_text("\n".join(legacy) + "\n", encoding="utf-8")
    config = PrepareConfig(
        sources=[ChatFileSource(type="chat", path=folder)],
        blocklist=sources["blocklist"],
        knowledge=False,
        test_ratio=0.3,
    )
    result = prepare(config)
    counts = result.manifest["counts"]
    assert counts["rows"] == 62
    assert counts["duplicate_exact"] == 1 and counts["duplicate_normalized"] == 1
    assert counts["kept"] == 60
    assert result.manifest["repeated_questions"] == {"kept": 0, "examples": []}
    domains = result.manifest["domains"]
    for domain in ("cooking_food", "greetings_smalltalk"):
        rows = domains["train"].get(domain, {}).get("rows", 0) + domains["test"].get(
            domain, {}
        ).get("rows", 0)
        assert rows == 30, domain
        assert domains["train"][domain]["tokens"] > 10 * domains["train"][domain]["rows"]
    assert {r["domain"] for r in result.train + result.test} == {
        "cooking_food",
        "greetings_smalltalk",
    }
    (source,) = result.manifest["sources"]
    assert sorted(source["files"]) == [
        str(folder / "cooking_food.jsonl"),
        str(folder / "legacy.jsonl"),
    ]
    assert source["train"]["rows"] + source["test"]["rows"] == 60
    tokens = result.manifest["tokens"]
    assert "gemma3-270m" in tokens["tokenizer"]
    assert tokens["train"]["tokens"] == sum(d["tokens"] for d in domains["train"].values())


def test_a_generated_entity_follows_a_hand_written_row_with_the_same_question(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "countries.tsv").write_text(
        "country\tcapital\tcontinent\tcurrency\nترکیه\tآنکارا\t\tلیر\n", encoding="utf-8"
    )
    (tables / "provinces.tsv").write_text("province\tcentre\nفارس\tشیراز\n", encoding="utf-8")
    chats = tmp_path / "chats.jsonl"
    filler = [chat(f"پرسش شمارهٔ {i}", f"پاسخ شمارهٔ {i}") for i in range(20)]
    chats.write_text(
        "\n".join([chat("پایتخت ترکیه کجاست؟", "آنکارا."), *filler]) + "\n", encoding="utf-8"
    )
    question = "پایتخت ترکیه کجاست"
    # a seed for which the entity alone and the question alone fall on different sides
    entity = "country:ترکیه"
    seed = next(s for s in range(100) if is_test(question, 0.5, s) != is_test(entity, 0.5, s))
    config = PrepareConfig(
        sources=[
            ChatFileSource(type="chat", path=chats),
            TaskSource(type="task", name="facts", tables=tables),
        ],
        blocklist=sources["blocklist"],
        knowledge=False,
        test_ratio=0.5,
        seed=seed,
    )
    result = prepare(config)
    side = result.test if is_test(question, 0.5, seed) else result.train
    turkey = [r for r in result.train + result.test if "ترکیه" in json.dumps(r, ensure_ascii=False)]
    assert len(turkey) == 1 + 4  # the hand-written row; capital x2, capital_of, currency
    assert all(r in side for r in turkey)
    assert result.manifest["repeated_questions"]["kept"] == 1


def test_max_share_caps_a_source_by_tokens(sources: dict[str, Path], tmp_path: Path) -> None:
    long_path, short_path = tmp_path / "long.jsonl", tmp_path / "short.jsonl"
    reply = "این پاسخی بلند و کامل است که چند جمله دارد. " * 6
    long_path.write_text(
        "\n".join(chat(f"شعر شمارهٔ {i} را بخوان", reply * (1 + i % 3)) for i in range(60)) + "\n",
        encoding="utf-8",
    )
    short_path.write_text(
        "\n".join(chat(f"پرسش کوتاه {i}", f"پاسخ کوتاه {i}") for i in range(60)) + "\n",
        encoding="utf-8",
    )
    capped = f"chat:{long_path}"
    config = PrepareConfig(
        sources=[
            ChatFileSource(type="chat", path=long_path),
            ChatFileSource(type="chat", path=short_path),
        ],
        blocklist=sources["blocklist"],
        knowledge=False,
        test_ratio=0.3,
        max_share={capped: 0.35},
    )
    result = prepare(config)
    tokens = result.manifest["tokens"]
    assert 0 < tokens["train"]["share"][capped] <= 0.35
    assert tokens["test"]["share"][capped] <= 0.35
    long_source = result.manifest["sources"][0]
    assert long_source["counts"]["over_share"] > 0
    assert long_source["counts"]["kept"] + long_source["counts"]["over_share"] == 60
    assert (
        long_source["train"]["rows"] + long_source["test"]["rows"] == long_source["counts"]["kept"]
    )
    kept_lengths = {
        len(r["messages"][-1]["content"]) for r in result.train if r["source"] == capped
    }
    assert max(kept_lengths) < 3 * len(reply) - 10  # the longest replies went first
    uncapped = prepare(config.model_copy(update={"max_share": {}}))
    assert uncapped.manifest["tokens"]["train"]["share"][capped] > 0.35


def test_default_sources_and_cap() -> None:
    config = PrepareConfig()
    assert [describe(s) for s in config.sources] == [
        "hafez",
        "chat:datasets/sources/conversations",
        "task:facts",
        "task:passages",
        "task:translation",
        "task:sentiment",
        "task:dates_numbers",
        "task:arithmetic",
    ]
    assert config.max_share == {"hafez": 0.1}
    assert config.reading and config.knowledge


def test_max_share_option() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--max-share", "task:facts=0.2"]))
    assert config.max_share == {"hafez": 0.1, "task:facts": 0.2}
    with pytest.raises(UserError, match=r"share of 'hafez' must be in \(0, 1\]"):
        config_from_args(parser.parse_args(["--max-share", "hafez=1.5"]))
    with pytest.raises(UserError, match="expected SOURCE=SHARE"):
        config_from_args(parser.parse_args(["--max-share", "hafez"]))


def test_outputs_are_byte_identical_across_runs(sources: dict[str, Path], tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        write_outputs(prepare(make_config(sources, out)), out)
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["SHA256SUMS", "manifest.json", "test.jsonl", "train.jsonl"]


def test_strict_mode_stops_at_the_first_bad_row(sources: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match=rf"{sources['chat']}:7: malformed JSON.*--strict"):
        prepare(make_config(sources, tmp_path / "out", strict=True))


def test_failed_run_leaves_previous_outputs_intact(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write_outputs(prepare(make_config(sources, out)), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    sources["qa"].write_bytes(b"soal,javab\n" + "سلام,درود\n".encode("cp1256"))
    with pytest.raises(InputError, match=r"faq\.csv:2: not valid UTF-8"):
        prepare(make_config(sources, out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_nothing_left_is_an_error(sources: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "english.jsonl"
    path.write_text(chat("Hello there", "General Kenobi") + "\n", encoding="utf-8")
    config = PrepareConfig(
        sources=[ChatFileSource(type="chat", path=path)],
        blocklist=sources["blocklist"],
        knowledge=False,
    )
    with pytest.raises(UserError, match="no training examples"):
        prepare(config)


# --- the command line, as a user runs it --------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "persian_chat.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_explains_every_option(repo: Path) -> None:
    result = run_cli("prepare", "--help", cwd=repo)
    assert result.returncode == 0
    for option in (
        "--source",
        "--config",
        "--output-dir",
        "--test-ratio",
        "--seed",
        "--system-prompt",
        "--min-chars",
        "--max-chars",
        "--min-persian-ratio",
        "--blocklist",
        "--digits",
        "--strict",
        "--max-share",
        "type=task",
    ):
        assert option in result.stdout
    top = run_cli("--help", cwd=repo)
    assert top.returncode == 0 and "prepare" in top.stdout


def test_cli_bad_input_is_one_clear_line(sources: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(
        "prepare",
        "--source",
        f"type=qa,path={sources['qa']},question=q,answer=a",
        "--blocklist",
        str(sources["blocklist"]),
        "--output-dir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{sources['qa']}:1: missing column(s) q, a" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_reads_a_toml_config(sources: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "prepare.toml"
    config.write_text(
        f"""
test_ratio = 0.2
seed = 7
system_prompt = "دستیار آزمایشی"
blocklist = "{sources["blocklist"]}"
knowledge = false

[[sources]]
type = "chat"
path = "{sources["chat"]}"
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli("prepare", "--config", str(config), "--output-dir", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["seed"] == 7
    assert manifest["settings"]["system_prompt"] == "دستیار آزمایشی"
    first = json.loads((out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": "دستیار آزمایشی"}

    bad = tmp_path / "bad.toml"
    bad.write_text("test_ratio = 2\n", encoding="utf-8")
    result = run_cli("prepare", "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and "test_ratio" in result.stderr


def test_default_dataset_is_reproduced_byte_for_byte(repo: Path, tmp_path: Path) -> None:
    """The committed datasets/ is exactly what `persian-chat prepare` builds offline."""
    out = tmp_path / "datasets"
    result = run_cli("prepare", "--output-dir", str(out), cwd=repo)
    assert result.returncode == 0, result.stderr
    for name in (
        "train.jsonl",
        "test.jsonl",
        "SHA256SUMS",
        "manifest.json",
        "knowledge/passages.jsonl",
    ):
        assert (out / name).read_bytes() == (repo / "datasets" / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["train"] > 2500 and manifest["counts"]["test"] > 200
    everyday = manifest["sources"][1]
    assert everyday["source"] == "chat:datasets/sources/conversations"
    assert everyday["counts"]["kept"] >= 3000
    assert manifest["tokens"]["train"]["share"]["hafez"] <= 0.35
    domains = set(manifest["domains"]["train"])
    assert {"facts_geography", "translation", "sentiment", "dates_numbers", "arithmetic"} <= domains
    assert {"hafez", "hafez_continuation", "cooking_food", "dont_know_refusals"} <= domains


def test_question_answer_rows_can_become_passages(sources: dict[str, Path], tmp_path: Path) -> None:
    """A studio bot's FAQ: each kept qa row (train and test) is also a passage."""
    result = prepare(make_config(sources, tmp_path / "out", knowledge_from_sources=True))
    passages = result.knowledge
    assert passages and {p.source for p in passages} == {"uploads"}
    assert any(p.title == "ساعت کاری کتابخانه چیست؟" and "۸ صبح" in p.text for p in passages)
    assert result.manifest["knowledge"]["sources"] == {"uploads": len(passages)}
    digests = write_outputs(result, tmp_path / "out")
    assert "knowledge/passages.jsonl" in digests
