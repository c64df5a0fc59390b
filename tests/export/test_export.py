from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from persian_chat.checksums import sha256_file
from persian_chat.errors import UserError
from persian_chat.export import export as export_module
from persian_chat.export import parity
from persian_chat.export.export import export


def run_export(
    checkpoint: Path, data: Path, tmp: Path, precision: str = "int8", method: str = "blockwise"
) -> dict[str, Any]:
    return export(checkpoint, tmp / "served", precision, data, tmp / "logs", 8, 128, 1, method)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["gpt2", "gemma"])
def test_int8_export_passes_parity_and_lists_every_file(
    kind: str, gpt2_checkpoint: Path, gemma_checkpoint: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    checkpoint = gpt2_checkpoint if kind == "gpt2" else gemma_checkpoint
    manifest = run_export(checkpoint, tiny_dataset, tmp_path)
    served = tmp_path / "served"
    on_disk = json.loads((served / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    for name in (
        "model.onnx",
        "tokenizer.json",
        "chat_template.jinja",
        "config.json",
        "generation_config.json",
    ):
        assert (served / name).is_file(), name
    assert set(manifest["files"]) == {p.name for p in served.iterdir()} - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert sha256_file(served / name) == digest
    assert manifest["precision"] == "int8" and manifest["quantization"]["bits"] == 8
    assert "input_ids" in manifest["onnx"]["inputs"]
    assert any(n.startswith("past_key_values.") for n in manifest["onnx"]["inputs"])
    assert manifest["sizes"]["int8_bytes"] < manifest["sizes"]["fp32_bytes"]
    report = manifest["parity"]
    assert report["passed"] and report["fp32_max_abs_logit_diff"] < parity.FP32_MAX_LOGIT_DIFF
    # the raw onnxruntime KV-cache loop reproduces PyTorch's greedy tokens in fp32
    assert report["greedy_agreement"]["fp32"]["agreement"] == 1.0
    assert 0.0 <= report["greedy_agreement"]["int8"]["agreement"] <= 1.0
    assert set(report["perplexity"]) >= {"pytorch", "onnx_fp32", "onnx_int8"}
    assert abs(report["perplexity"]["onnx_fp32"] / report["perplexity"]["pytorch"] - 1) < 1e-3
    assert json.loads((tmp_path / "logs/export.json").read_text(encoding="utf-8")) == manifest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".served")]


@pytest.mark.parametrize(("gate", "algorithm"), [(10.0, "rtn"), (-1.0, "rtn"), (10.0, "gptq")])
def test_an_int4_graph_is_served_beside_int8_only_within_the_gate(
    gate: float,
    algorithm: str,
    gemma_checkpoint: Path,
    tiny_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from persian_chat.export import onnx_export
    from persian_chat.server.text.served_model import INT4_FILE, load_served_model

    monkeypatch.setattr(onnx_export, "INT4_MAX_PERPLEXITY_INCREASE", gate)
    manifest = export(
        gemma_checkpoint,
        tmp_path / "served",
        "int8",
        tiny_dataset,
        tmp_path / "logs",
        8,
        128,
        1,
        int4=True,
        int4_algorithm=algorithm,  # type: ignore[arg-type]
    )
    four, served = manifest["int4"], tmp_path / "served"
    assert four["quantization"]["nodes"] == list(onnx_export.INT4_NODES)
    assert four["quantization"]["algorithm"] == algorithm  # gptq: calibrated on train.jsonl
    assert four["perplexity"] > 0 and four["gate"] == gate
    assert four["served"] is (four["increase_over_fp32"] <= gate) is (gate > 0)
    model = load_served_model(served)  # checksums verified, the int4 file included
    if gate > 0:
        assert manifest["files"][INT4_FILE] == sha256_file(served / INT4_FILE)
        assert model.weight_files == {"int8": served / "model.onnx", "int4": served / INT4_FILE}
    else:
        assert not (served / INT4_FILE).exists() and "weights" not in manifest
        assert model.weight_files == {"int8": served / "model.onnx"}


def test_dynamic_int8_quantizes_only_weight_matmuls(
    gemma_checkpoint: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    import onnx

    manifest = run_export(gemma_checkpoint, tiny_dataset, tmp_path, method="dynamic")
    assert manifest["quantization"]["per_channel"] is True
    graph = onnx.load(str(tmp_path / "served/model.onnx")).graph
    kinds = {node.op_type for node in graph.node}
    assert "MatMulInteger" in kinds
    # the attention/rotary MatMuls of two activations stay float
    remaining = [n for n in graph.node if n.op_type == "MatMul"]
    assert remaining and all("proj" not in n.name for n in remaining)
    assert manifest["parity"]["passed"]


def test_fp32_export_carries_the_dataset_s_knowledge_base(
    gpt2_checkpoint: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    (data / "knowledge").mkdir()
    passage = {
        "id": "a",
        "title": "ژاپن",
        "text": "پایتخت ژاپن توکیو است.",
        "source": "s",
        "domain": "d",
    }
    (data / "knowledge/passages.jsonl").write_text(json.dumps(passage, ensure_ascii=False) + "\n")
    manifest = run_export(gpt2_checkpoint, data, tmp_path, precision="fp32")
    assert manifest["quantization"] is None and "onnx_int8" not in manifest["parity"]["perplexity"]
    served = tmp_path / "served"
    assert manifest["knowledge"] == {"file": "knowledge.jsonl", "passages": 1}
    assert "knowledge.jsonl" in manifest["files"]  # checked like every file
    assert (served / "knowledge.jsonl").read_bytes() == (
        data / "knowledge/passages.jsonl"
    ).read_bytes()


def test_failed_parity_keeps_the_previous_served_model(
    gpt2_checkpoint: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_export(gpt2_checkpoint, tiny_dataset, tmp_path, precision="fp32")
    before = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    monkeypatch.setattr(parity, "FP32_MAX_LOGIT_DIFF", -1.0)
    with pytest.raises(UserError, match="parity check failed: fp32 ONNX logits differ"):
        run_export(gpt2_checkpoint, tiny_dataset, tmp_path, precision="fp32")
    assert {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()} == before
    failed = json.loads((tmp_path / "logs/export.json").read_text(encoding="utf-8"))
    assert failed["parity"]["passed"] is False
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_full_disk_leaves_nothing(
    gpt2_checkpoint: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module.shutil, "copy2", no_space)
    with pytest.raises(UserError, match="disk full"):
        run_export(gpt2_checkpoint, tiny_dataset, tmp_path, precision="fp32")
    assert not (tmp_path / "served").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_checkpoints_are_refused(
    gpt2_checkpoint: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="no checkpoint here"):
        run_export(tmp_path / "absent", tiny_dataset, tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(gpt2_checkpoint, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"has no tokenizer\.json"):
        run_export(broken, tiny_dataset, tmp_path)
    shutil.rmtree(broken)
    shutil.copytree(gpt2_checkpoint, broken)
    (broken / "chat_template.jinja").unlink()
    config = json.loads((broken / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("chat_template", None)
    (broken / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UserError, match="no chat template"):
        run_export(broken, tiny_dataset, tmp_path)


def test_architecture_optimum_cannot_export(tiny_dataset: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast, XLNetConfig, XLNetLMHeadModel

    from persian_chat.chat_template import CHAT_TEMPLATE

    checkpoint = tmp_path / "xlnet"
    XLNetLMHeadModel(
        XLNetConfig(vocab_size=32, d_model=16, n_layer=1, n_head=2, d_inner=32)
    ).save_pretrained(checkpoint)
    backend = Tokenizer(models.BPE(vocab={"a": 0, "<unk>": 1}, merges=[], unk_token="<unk>"))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, chat_template=CHAT_TEMPLATE, bos_token="a"
    )
    tokenizer.save_pretrained(checkpoint)
    with pytest.raises(UserError, match="Optimum cannot export"):
        run_export(checkpoint, tiny_dataset, tmp_path)


def test_onnx_logits_match_pytorch_with_and_without_cache(
    gemma_checkpoint: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    from persian_chat.export.onnx_export import export_fp32
    from persian_chat.server.kv.onnx_model import OnnxDecoder

    decoder = OnnxDecoder(export_fp32(gemma_checkpoint, tmp_path / "onnx"))
    model = AutoModelForCausalLM.from_pretrained(gemma_checkpoint).eval()
    ids = [2, 40, 41, 300, 7, 99, 12, 5]
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0].numpy()
    np.testing.assert_allclose(decoder.sequence_logits(ids), expected, atol=1e-4)
    # prefill 5 then 3 cached steps == one full pass
    mask = np.ones((1, 5), dtype=np.int64)
    logits, past = decoder.step(np.array([ids[:5]]), mask, decoder.empty_cache(1))
    rows = [logits[0, -1]]
    for token in ids[5:]:
        mask = np.concatenate([mask, [[1]]], axis=1)
        logits, past = decoder.step(np.array([[token]]), mask, past)
        rows.append(logits[0, -1])
    np.testing.assert_allclose(np.stack(rows), expected[4:], atol=1e-4)
