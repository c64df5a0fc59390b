"""Shared fixtures: one hazm-backed normalizer per session (hazm loads word lists), and tiny
random models built inside the tests (never the hub):

- a Gemma-3 checkpoint made the way the real one is: a SentencePiece BPE tokenizer trained
  here on Persian text and random Gemma-3 weights are written into a GGUF file, which
  `convert_gguf` turns into an HF directory;
- a GPT-2 with a byte-level BPE tokenizer trained here on Persian text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Tests never reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent

# Every process the suite starts inherits this mark, so one that outlives the suite is found
# even after it lost its parent (an orphan is re-parented to init and is nobody's child).
RUN_MARK = "PERSIAN_CHAT_TEST_RUN"
os.environ[RUN_MARK] = f"{os.getpid()}-{os.urandom(4).hex()}"


def marked_processes() -> list[Any]:
    """Live processes other than this one that carry this run's mark."""
    import psutil

    mark, found = os.environ[RUN_MARK], []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(RUN_MARK) == mark:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_suite() -> Any:
    """Torn down last: fails the run if a process it started is still alive (after a short
    grace for ones already exiting), and kills those so nothing keeps running."""
    import psutil

    yield
    left = marked_processes()
    _, alive = psutil.wait_procs(left, timeout=10)
    described = []
    for process in alive:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:200]}")
            process.kill()
        except psutil.NoSuchProcess:
            continue
    assert not described, "processes started by the tests are still running:\n" + "\n".join(
        described
    )


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def normalizer():  # type: ignore[no-untyped-def]
    from persian_chat.normalize import PersianNormalizer

    return PersianNormalizer()


# Gemma's fixed ids: <pad>=0, <eos>=1, <bos>=2, <unk>=3.
GEMMA_SPECIALS = ["<start_of_turn>", "<end_of_turn>"]


def _persian_texts(repo: Path, limit: int) -> list[str]:
    texts = []
    with (repo / "datasets/train.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            for message in json.loads(line)["messages"]:
                texts.append(message["content"])
            if len(texts) >= limit:
                break
    return texts


@pytest.fixture(scope="session")
def persian_texts(repo: Path) -> list[str]:
    return _persian_texts(repo, 1500)


@dataclass(frozen=True)
class SpmModel:
    path: Path
    processor: Any


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory: pytest.TempPathFactory, persian_texts: list[str]) -> SpmModel:
    import sentencepiece as spm

    directory = tmp_path_factory.mktemp("spm")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(t.replace("\n", " ") for t in persian_texts), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(directory / "spm"),
        model_type="bpe",
        vocab_size=700,
        byte_fallback=True,
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        control_symbols=GEMMA_SPECIALS,
        user_defined_symbols=["\n", "\n\n"],
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        split_by_whitespace=True,
        num_threads=1,
        minloglevel=2,
    )
    return SpmModel(
        directory / "spm.model", spm.SentencePieceProcessor(model_file=str(directory / "spm.model"))
    )


def tiny_gemma3_model(vocab_size: int) -> Any:
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=512,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    model = Gemma3ForCausalLM(config).eval()
    with torch.no_grad():  # non-trivial norms, so a wrong +1/-1 convention would show
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.uniform_(-0.5, 0.5)
    return model


def write_gemma3_gguf(path: Path, spm_processor: Any, model: Any) -> None:
    """A GGUF laid out like llama.cpp's Gemma-3 conversion (norm weights stored as 1 + w)."""
    import gguf
    import numpy as np

    config = model.config
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_sliding_window(config.sliding_window)
    writer.add_tokenizer_model("llama")
    pieces = [spm_processor.id_to_piece(i) for i in range(spm_processor.get_piece_size())]
    types = []
    for i in range(len(pieces)):
        if spm_processor.is_control(i):
            types.append(3)
        elif spm_processor.is_byte(i):
            types.append(6)
        elif spm_processor.is_unknown(i):
            types.append(2)
        elif pieces[i] in ("\n", "\n\n"):
            types.append(4)
        else:
            types.append(1)
    writer.add_token_list(pieces)
    writer.add_token_scores([spm_processor.get_score(i) for i in range(len(pieces))])
    writer.add_token_types(types)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the embeddings
        base = names.get_name(name.removesuffix(".weight"))
        data = tensor.detach().float().numpy()
        if "norm" in name:
            data = data + 1.0
        writer.add_tensor(f"{base}.weight", np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@dataclass(frozen=True)
class TinyGemma:
    gguf_path: Path
    model_dir: Path
    reference: Any  # the random HF model the GGUF was written from


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory: pytest.TempPathFactory, spm_model: SpmModel) -> TinyGemma:
    from persian_chat.training.gguf_convert import convert_gguf

    directory = tmp_path_factory.mktemp("tiny-gemma")
    reference = tiny_gemma3_model(spm_model.processor.get_piece_size())
    gguf_path = directory / "tiny-gemma3.gguf"
    write_gemma3_gguf(gguf_path, spm_model.processor, reference)
    model_dir = directory / "hf"
    convert_gguf(gguf_path, model_dir)
    return TinyGemma(gguf_path, model_dir, reference)


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory, persian_texts: list[str]) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        persian_texts,
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    """A small prepared dataset (train/test + SHA256SUMS) cut from the real one."""
    from persian_chat.checksums import format_sha256sums, sha256_file

    directory = tmp_path_factory.mktemp("dataset")
    for name, count in (("train.jsonl", 48), ("test.jsonl", 12)):
        lines = (repo / "datasets" / name).read_text(encoding="utf-8").splitlines()
        short = [line for line in lines if len(line) < 700][:count]
        (directory / name).write_text("\n".join(short) + "\n", encoding="utf-8")
    digests = {n: sha256_file(directory / n) for n in ("train.jsonl", "test.jsonl")}
    (directory / "SHA256SUMS").write_text(format_sha256sums(digests), encoding="utf-8")
    manifest = json.loads((repo / "datasets" / "manifest.json").read_text(encoding="utf-8"))
    settings = {k: manifest["settings"][k] for k in ("normalizer", "system_prompt_normalized")}
    (directory / "manifest.json").write_text(json.dumps({"settings": settings}), encoding="utf-8")
    return directory


def train_tiny(base: Path, data: Path, out: Path) -> Path:
    """Fine-tune a tiny model for 3 steps (a real checkpoint with its training manifest)."""
    from persian_chat.training.train import TrainConfig, train

    train(
        TrainConfig(
            base_model=str(base),
            data_dir=data,
            output_dir=out / "model",
            logs_dir=out / "logs",
            max_steps=3,
            batch_size=4,
            max_length=128,
            save_steps=100,
            threads=1,
            lora=False,
        )
    )
    return out / "model"


@pytest.fixture(scope="session")
def gpt2_checkpoint(
    tiny_gpt2_dir: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return train_tiny(tiny_gpt2_dir, tiny_dataset, tmp_path_factory.mktemp("gpt2-ckpt"))


@pytest.fixture(scope="session")
def gemma_checkpoint(
    tiny_gemma: TinyGemma, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return train_tiny(tiny_gemma.model_dir, tiny_dataset, tmp_path_factory.mktemp("gemma-ckpt"))


def served_dir(checkpoint: Path, data: Path, work: Path, precision: str = "int8") -> Path:
    """Export a checkpoint into work/served (with its parity check and manifest)."""
    from persian_chat.export.export import export

    export(checkpoint, work / "served", precision, data, work / "logs", 4, 128, 1)  # type: ignore[arg-type]
    return work / "served"


@pytest.fixture(scope="session")
def tiny_served_dir(
    gpt2_checkpoint: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny GPT-2 fine-tuned for 3 steps and exported to int8 with its manifest."""
    return served_dir(gpt2_checkpoint, tiny_dataset, tmp_path_factory.mktemp("served-gpt2"))


@pytest.fixture(scope="session")
def tiny_gemma_served_dir(
    gemma_checkpoint: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny Gemma-3 fine-tuned for 3 steps and exported to int8 with its manifest."""
    return served_dir(gemma_checkpoint, tiny_dataset, tmp_path_factory.mktemp("served-gemma"))


@pytest.fixture(scope="session")
def tiny_gemma_fp32_served_dir(
    gemma_checkpoint: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same tiny Gemma-3 exported in fp32: for claims of exactness between a one-token
    and a several-token step, which hold in fp32 only (int8's MatMulNBits takes another
    kernel path for several rows, on AMX machines far from the last bits)."""
    work = tmp_path_factory.mktemp("served-gemma-fp32")
    return served_dir(gemma_checkpoint, tiny_dataset, work, "fp32")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With PERSIAN_CHAT_TEST_SUMMARY set (`make test` sets it), write the run's counts as
    JSON for `persian-chat report`."""
    import datetime as dt
    import os
    import platform

    target = os.environ.get("PERSIAN_CHAT_TEST_SUMMARY")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not target or reporter is None:
        return
    counts = {
        k: len(reporter.stats.get(k, []))
        for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    }
    start = getattr(reporter, "_session_start", None)
    elapsed = getattr(start.elapsed(), "seconds", 0.0) if start is not None else 0.0
    summary = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "counts": counts,
        "duration_s": round(float(elapsed), 1),
        "exit_status": int(exitstatus),
    }
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    path.with_suffix(".tmp").replace(path)


@pytest.fixture(scope="module", params=["gpt2", "gemma"])
def served_decoder(
    request: pytest.FixtureRequest, tiny_served_dir: Path, tiny_gemma_served_dir: Path
) -> tuple[Any, Any]:
    """(ServedModel, OnnxDecoder) for the tiny int8 GPT-2 and Gemma-3 exports in turn."""
    from persian_chat.server.kv.onnx_model import load_decoder
    from persian_chat.server.text.served_model import load_served_model

    path = tiny_served_dir if request.param == "gpt2" else tiny_gemma_served_dir
    model = load_served_model(path)
    return model, load_decoder(model.onnx_path, threads=1)


def _postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (`make` installs the package), or None."""
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A throwaway PostgreSQL cluster on a Unix socket in a temporary folder, for the
    session; its URL. Run as the `postgres` user when the suite runs as root (PostgreSQL
    refuses root)."""
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("needs PostgreSQL (make installs Debian's postgresql)")
    base = Path(tempfile.mkdtemp(prefix="persian-chat-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(base, "postgres", "postgres")

    def run(*command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
    )
    options = f"-k {base} -p {port} -c listen_addresses=''"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(base / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://postgres@/postgres?host={base}&port={port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url: str) -> Any:
    """A new, empty database in the session's cluster; its URL."""
    import uuid

    import psycopg

    name = "test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_url.replace("/postgres?", f"/{name}?")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
