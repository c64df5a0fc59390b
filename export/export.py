"""Turn models/persian-chat/ into the served directory: ONNX with KV cache (Optimum),
dynamic int8 quantization (default) or fp32, a parity check against PyTorch, and a
manifest with the sha256 of every file. Everything is built in a temporary directory beside
the output and renamed into place only when parity passes, so a failed export leaves the
previous served directory untouched and nothing half-written.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from persian_chat.atomic import atomic_write_text, building_directory
from persian_chat.checksums import sha256_file
from persian_chat.errors import UserError
from persian_chat.knowledge import SERVED_KNOWLEDGE
from persian_chat.logs import configure_logging
from persian_chat.server.text.served_model import INT4_FILE, SERVED_FORMAT
from persian_chat.training.data.knowledge import KNOWLEDGE_FILE
from persian_chat.versions import package_versions

HELP = "export the fine-tuned model to int8 (or fp32) ONNX with a parity check"
log = logging.getLogger("persian_chat.export")

COPIED_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "generation_config.json",
    "chat_template.jinja",
)


def check_checkpoint(model_dir: Path) -> dict[str, Any]:
    """Refuse a directory that cannot make a served model; return its training manifest."""
    if not model_dir.is_dir():
        raise UserError(f"{model_dir}: no checkpoint here; run `persian-chat train` first")
    for name in ("config.json", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise UserError(f"{model_dir}: checkpoint has no {name}")
    if not any(model_dir.glob("*.safetensors")) and not any(model_dir.glob("*.bin")):
        raise UserError(f"{model_dir}: checkpoint has no weights (*.safetensors)")
    template = model_dir / "chat_template.jinja"
    config = (
        json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        if (model_dir / "tokenizer_config.json").is_file()
        else {}
    )
    if not template.is_file() and not config.get("chat_template"):
        raise UserError(f"{model_dir}: tokenizer has no chat template")
    manifest = model_dir / "training_manifest.json"
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}


def _dataset_settings(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "manifest.json"
    if not path.is_file():
        return {}
    settings = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
    return {
        "normalizer": settings.get("normalizer"),
        "system_prompt": settings.get("system_prompt_normalized"),
    }


def _graph_io(path: Path) -> dict[str, list[str]]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {
        "inputs": [i.name for i in session.get_inputs()],
        "outputs": [o.name for o in session.get_outputs()],
    }


def _onnx_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.name.startswith("model.onnx"))


def export(
    model_dir: Path,
    output: Path,
    precision: Literal["int8", "fp32"],
    data_dir: Path,
    logs_dir: Path,
    parity_examples: int | None,
    max_length: int,
    threads: int,
    method: Literal["blockwise", "dynamic"] = "blockwise",
    context_length: int = 4096,
    graph: Literal["auto", "gqa", "optimum"] = "auto",
    int4: bool = False,
    int4_nodes: tuple[str, ...] | None = None,
    int4_block: int | None = None,
    int4_algorithm: Literal["rtn", "hqq", "gptq"] | None = None,
) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from persian_chat.export.gptq import CALIBRATION_PROMPTS, calibration_ids
    from persian_chat.export.gqa_graph import build_gqa_graph, gqa_supported
    from persian_chat.export.onnx_export import (
        INT4_ALGORITHM,
        INT4_BLOCK,
        INT4_NODES,
        default_quantization,
        export_fp32,
        int4_choice,
        quantize_int8,
    )
    from persian_chat.export.parity import check_parity
    from persian_chat.server.kv.onnx_model import load_decoder
    from persian_chat.training.chat_data import load_conversations, spread, verify_dataset

    started = time.monotonic()
    training = check_checkpoint(model_dir)
    digests = verify_dataset(data_dir)
    test = spread(load_conversations(data_dir / "test.jsonl"), parity_examples)
    torch.set_num_threads(threads)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        scratch = tempfile.TemporaryDirectory(prefix=f".{output.name}.work.", dir=output.parent)
        with scratch as work_name, building_directory(output) as served:
            work = Path(work_name)
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
            if graph == "auto":  # ORTQuantizer cannot type the GQA graph's contrib ops
                dynamic = precision == "int8" and method == "dynamic"
                graph = "gqa" if gqa_supported(model.config) and not dynamic else "optimum"
            if graph == "gqa":
                log.info("writing %s as a GroupQueryAttention graph (fp32)", model_dir)
                context = min(context_length, int(model.config.max_position_embeddings))
                fp32_path = build_gqa_graph(model, work / "fp32", context)
            else:
                log.info("exporting %s to ONNX fp32 with KV cache (Optimum)", model_dir)
                context = None
                fp32_path = export_fp32(model_dir, work / "fp32")
            choice = default_quantization(method) if precision == "int8" else None
            int8_path = None
            if choice is not None:
                log.info("quantizing to int8 (%s)", choice.describe())
                int8_path = quantize_int8(work / "fp32", work / "int8", choice)
            log.info("checking parity on %d test conversations", len(test))
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            fp32 = load_decoder(fp32_path, threads)
            int8 = load_decoder(int8_path, threads) if int8_path else None
            parity = check_parity(model, tokenizer, fp32, int8, test, max_length).as_dict()
            del model, fp32, int8
            four: dict[str, Any] | None = None
            if int4 and graph != "gqa":
                log.warning("--int4 left out: its 4-bit nodes are named in the GQA graph only")
            elif int4 and choice is not None and choice.method == "blockwise":
                four_choice = int4_choice(
                    choice,
                    int4_nodes or INT4_NODES,
                    int4_block or INT4_BLOCK,
                    int4_algorithm or INT4_ALGORITHM,
                )
                calibration = None
                if four_choice.int4_algorithm == "gptq":
                    train = load_conversations(data_dir / "train.jsonl")
                    calibration = calibration_ids(tokenizer, spread(train, CALIBRATION_PROMPTS))
                four = _int4_graph(
                    work, four_choice, tokenizer, test, max_length, parity, threads, calibration
                )

            chosen = work / ("int8" if choice else "fp32")
            for path in chosen.iterdir():
                if path.name.startswith("model.onnx"):
                    shutil.copy2(path, served / path.name)
            if four is not None and four["served"]:
                shutil.copy2(work / "int4" / "model.onnx", served / INT4_FILE)
            for name in COPIED_FILES:
                if (model_dir / name).is_file():
                    shutil.copy2(model_dir / name, served / name)
            if not (served / "chat_template.jinja").is_file():
                (served / "chat_template.jinja").write_text(
                    tokenizer.chat_template, encoding="utf-8"
                )
            sizes = {"fp32_bytes": _onnx_bytes(work / "fp32")}
            if choice:
                sizes["int8_bytes"] = _onnx_bytes(work / "int8")
            manifest: dict[str, Any] = {
                "format": SERVED_FORMAT,
                "source_checkpoint": str(model_dir),
                "training_manifest_sha256": (
                    sha256_file(model_dir / "training_manifest.json")
                    if (model_dir / "training_manifest.json").is_file()
                    else None
                ),
                "base_model": training.get("base_model"),
                "dataset_sha256": digests,
                "precision": precision,
                "quantization": choice.describe() if choice else None,
                "onnx": {
                    **_graph_io(served / "model.onnx"),
                    "graph": graph,  # gqa: in-place KV buffers (server/kv/slot_cache.py)
                    "context_length": context,  # positions the graph's rotary tables hold
                },
                "parity": parity,
                "sizes": sizes,
                **({"int4": four} if four is not None else {}),
                **_dataset_settings(data_dir),
                "versions": package_versions(
                    ("torch", "transformers", "optimum", "optimum-onnx", "onnxruntime")
                ),
                "export_time_s": round(time.monotonic() - started, 1),
            }
            if four is not None and four["served"]:  # serve --weights picks by speed
                manifest["weights"] = {
                    "int8": {"file": "model.onnx"},
                    "int4": {"file": INT4_FILE},
                }
            passages = data_dir / KNOWLEDGE_FILE
            if passages.is_file():  # the version carries its knowledge base (SERVED_KNOWLEDGE)
                shutil.copyfile(passages, served / SERVED_KNOWLEDGE)
                manifest["knowledge"] = {
                    "file": SERVED_KNOWLEDGE,
                    "passages": sum(1 for line in passages.open(encoding="utf-8") if line.strip()),
                }
            manifest["files"] = {p.name: sha256_file(p) for p in sorted(served.iterdir())}
            (served / "manifest.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            logs_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                logs_dir / "export.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
            )
            if parity["failures"]:
                raise UserError("parity check failed: " + "; ".join(parity["failures"]))
        return manifest
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"disk full while exporting to {output.parent}; nothing was written"
            ) from None
        raise


def _int4_graph(
    work: Path,
    choice: Any,
    tokenizer: Any,
    test: list[Any],
    max_length: int,
    parity: dict[str, Any],
    threads: int,
    calibration: list[list[int]] | None = None,
) -> dict[str, Any]:
    """Quantize the int4 graph into work/int4 and measure its perplexity against fp32's:
    what the manifest records of it, `served` true where it passes the gate."""
    from persian_chat.export.onnx_export import INT4_MAX_PERPLEXITY_INCREASE, quantize_int8
    from persian_chat.export.parity import onnx_perplexity
    from persian_chat.server.kv.onnx_model import load_decoder

    log.info("quantizing an int4 graph too (%s)", choice.describe()["int4"])
    path = quantize_int8(work / "fp32", work / "int4", choice, calibration)
    decoder = load_decoder(path, threads)
    ppl = onnx_perplexity(decoder, tokenizer, test, max_length, "onnx int4")
    del decoder
    increase = ppl / parity["perplexity"]["onnx_fp32"] - 1
    served = increase <= INT4_MAX_PERPLEXITY_INCREASE
    log.info(
        "int4 perplexity %.3f, %+.1f%% over fp32: %s",
        ppl,
        increase * 100,
        "served beside int8"
        if served
        else f"over the {INT4_MAX_PERPLEXITY_INCREASE:.0%} gate, left out",
    )
    return {
        "quantization": choice.describe()["int4"],
        "perplexity": round(ppl, 4),
        "increase_over_fp32": round(increase, 5),
        "gate": INT4_MAX_PERPLEXITY_INCREASE,
        "served": served,
        "bytes": _onnx_bytes(work / "int4"),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", type=Path, default=Path("models/persian-chat"), help="fine-tuned checkpoint")
    add(
        "--output",
        type=Path,
        default=None,
        help="served directory (default: models/persian-chat-onnx-PRECISION)",
    )
    add("--precision", choices=["int8", "fp32"], default="int8", help="weights of the served graph")
    add("--data-dir", type=Path, default=Path("datasets"), help="test.jsonl for perplexity parity")
    add("--logs-dir", type=Path, default=Path("logs"), help="where export.json goes")
    add(
        "--parity-examples",
        type=int,
        default=400,
        help="test conversations for perplexity, evenly spaced (0: all)",
    )
    add("--max-length", type=int, default=512, help="tokens per test conversation")
    add("--threads", type=int, default=2, help="threads for PyTorch and onnxruntime")
    add(
        "--context-length",
        type=int,
        default=4096,
        help="longest sequence (prompt + answer) the served graph runs",
    )
    add(
        "--graph",
        choices=["auto", "gqa", "optimum"],
        default="auto",
        help="gqa: GroupQueryAttention with in-place KV (Gemma-3); optimum: Optimum's export; "
        "auto: gqa where the model allows it",
    )
    add(
        "--int4",
        action="store_true",
        help="also quantize an int4 graph (model.int4.onnx) and serve it beside int8 if its "
        "perplexity is within 3%% of fp32: serve --weights auto then runs the faster",
    )
    add(
        "--int4-nodes",
        type=lambda text: tuple(part for part in text.split(",") if part),
        default=None,
        help="comma-separated parts of the MatMul names that get 4 bits (default: gate_up; "
        "`bench quantization --mixed-only` finds a set of layers: its result's mixed.nodes)",
    )
    add("--int4-block", type=int, default=None, help="int4 block size (default 32)")
    add(
        "--int4-algorithm",
        choices=["rtn", "hqq", "gptq"],
        default=None,
        help="how the 4-bit weights are chosen: round to nearest, HQQ, or GPTQ calibrated on "
        "training conversations (default: gptq)",
    )
    add(
        "--int8-method",
        choices=["blockwise", "dynamic"],
        default="blockwise",
        help="blockwise: MatMulNBits 8-bit weights (default); dynamic: ORTQuantizer",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging()
    output = args.output or Path(f"models/persian-chat-onnx-{args.precision}")
    manifest = export(
        args.model,
        output,
        args.precision,
        args.data_dir,
        args.logs_dir,
        args.parity_examples or None,
        args.max_length,
        args.threads,
        args.int8_method,
        args.context_length,
        args.graph,
        args.int4,
        args.int4_nodes,
        args.int4_block,
        args.int4_algorithm,
    )
    parity = manifest["parity"]
    log.info(
        "wrote %s (%s): fp32 max |logit diff| %.2e, greedy agreement %s, perplexity %s, "
        "sizes %s, %.0f s",
        output,
        args.precision,
        parity["fp32_max_abs_logit_diff"],
        {k: v["agreement"] for k, v in parity["greedy_agreement"].items()},
        parity["perplexity"],
        manifest["sizes"],
        manifest["export_time_s"],
    )
    return 0
