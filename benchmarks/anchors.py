"""The engines a CPU-VPS user would pick instead, on the same fine-tuned checkpoint:
llama.cpp (through llama-cpp-python, GGUF Q8_0 and Q4_K_M made with llama.cpp's own
conversion script) and onnxruntime-genai (its model builder, int8 and int4), each fed the
same prompt token ids and decoding greedily.

Both come from the optional `anchors` extra (`pip install -e ".[anchors]"`; llama-cpp-python
compiles from its PyPI source, about 10 minutes on 2 cores). Without it the benchmark prints
why and leaves their rows out. Converted models are cached under the benchmark's work folder.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("persian_chat.benchmarks")

# The trimmed tokenizer's hash is not in llama.cpp's table of pre-tokenizers (renumbered ids
# change it); its rules are the untrimmed Gemma-3 tokenizer's, which llama.cpp names gemma4.
PRE_TOKENIZER = "gemma4"
_CONVERT = """
import sys
sys.path.insert(0, {source!r}); sys.path.insert(1, {source!r} + "/gguf-py")
from conversion.base import TextModel
TextModel.get_vocab_base_pre = lambda self, tokenizer: {pre!r}
sys.argv = ["convert_hf_to_gguf.py", {checkpoint!r}, "--outfile", {outfile!r}, "--outtype", "f32"]
import runpy
runpy.run_path({source!r} + "/convert_hf_to_gguf.py", run_name="__main__")
"""


@dataclass(frozen=True)
class Timing:
    """One greedy generation: time to the first token, then the decode rate after it."""

    first_token_s: float
    total_s: float
    tokens: int

    @property
    def decode_tokens_per_sec(self) -> float:
        return (self.tokens - 1) / max(self.total_s - self.first_token_s, 1e-9)


class Runner(Protocol):
    """An engine under test: its label, threads, model file and one timed generation."""

    name: str
    threads: int
    path: Path

    def run(self, prompt: list[int], new: int) -> Timing: ...


def _timed(tokens: Iterator[object], new: int) -> Timing:
    start = time.perf_counter()
    first, count = 0.0, 0
    for _ in tokens:
        count += 1
        first = first or time.perf_counter() - start
        if count == new:
            break
    return Timing(first, time.perf_counter() - start, count)


def missing() -> str | None:
    """Why the anchors cannot run here (None: they can)."""
    try:
        import llama_cpp  # noqa: F401
        import onnxruntime_genai  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[anchors]')"
    return None


def llama_cpp_source(work: Path) -> Path:
    """llama.cpp's conversion script from the llama-cpp-python sdist of the installed
    version (the one its library was built from), downloaded once from PyPI."""
    import llama_cpp

    version = llama_cpp.__version__
    target = work / f"llama.cpp-{version}"
    if (target / "convert_hf_to_gguf.py").is_file():
        return target
    download = work / "sdist"
    subprocess.run(
        # the sdist of this package only: ':all:' would build its build tools from source too
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            "llama-cpp-python",
            "-d",
            str(download),
            f"llama-cpp-python=={version}",
        ],
        check=True,
    )
    archive = next(download.glob(f"llama_cpp_python-{version}.tar.gz"))
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            relative = member.name.removeprefix(prefix)
            if member.name.startswith(prefix) and relative.startswith(wanted) and member.isfile():
                member.name = relative
                tar.extract(member, partial, filter="data")
    partial.replace(target)
    return target


def build_gguf(checkpoint: Path, work: Path) -> dict[str, Path]:
    """Q8_0 and Q4_K_M GGUF files of the checkpoint (f32 conversion, then llama.cpp's own
    quantizer through its C API)."""
    import llama_cpp

    out = work / "gguf"
    out.mkdir(parents=True, exist_ok=True)
    f32 = out / "model-f32.gguf"
    if not f32.is_file():
        source = llama_cpp_source(work)
        script = _CONVERT.format(
            source=str(source.resolve()),
            pre=PRE_TOKENIZER,
            checkpoint=str(checkpoint),
            outfile=str(f32) + ".tmp",
        )
        subprocess.run([sys.executable, "-c", script], check=True)
        Path(str(f32) + ".tmp").replace(f32)
    files = {}
    for name, ftype in (
        ("Q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0),
        ("Q4_K_M", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M),
    ):
        path = out / f"model-{name}.gguf"
        if not path.is_file():
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = ftype
            params.nthread = 2
            tmp = Path(str(path) + ".tmp")
            if llama_cpp.llama_model_quantize(str(f32).encode(), str(tmp).encode(), params):
                raise RuntimeError(f"llama.cpp could not quantize {f32} to {name}")
            tmp.replace(path)
        files[name] = path
    return files


def build_genai(checkpoint: Path, work: Path) -> dict[str, Path]:
    """onnxruntime-genai model folders, int8 and int4, from its own model builder."""
    folders = {}
    for precision in ("int8", "int4"):
        folder = work / f"genai-{precision}"
        if not (folder / "genai_config.json").is_file():
            command = [
                sys.executable,
                "-m",
                "onnxruntime_genai.models.builder",
                "-i",
                str(checkpoint),
                "-o",
                str(folder),
                "-p",
                precision,
                "-e",
                "cpu",
                "-c",
                str(work / "genai-cache"),
            ]
            if precision == "int8":  # its int8 build does not load with shared embeddings
                command += ["--extra_options", "shared_embeddings=false"]
            with (work / f"genai-{precision}.log").open("w") as log_file:  # a long progress log
                subprocess.run(command, check=True, stdout=log_file, stderr=subprocess.STDOUT)
        folders[precision] = folder
    return folders


class LlamaCppRunner:
    def __init__(self, name: str, path: Path, threads: int, context: int) -> None:
        from llama_cpp import Llama

        self.name, self.threads, self.path = name, threads, path
        self.llm = Llama(
            model_path=str(path),
            n_ctx=context,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def run(self, prompt: list[int], new: int) -> Timing:
        self.llm.reset()  # no reuse of the previous run's prompt cache
        tokens = self.llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0)
        return _timed(tokens, new)


class GenaiRunner:
    def __init__(self, name: str, folder: Path, threads: int) -> None:
        import onnxruntime_genai as og

        self.name, self.threads, self.path = name, threads, folder
        config = og.Config(str(folder))
        options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        self.model = og.Model(config)

    def run(self, prompt: list[int], new: int) -> Timing:
        import onnxruntime_genai as og

        params = og.GeneratorParams(self.model)
        length = len(prompt) + new  # min_length: EOS does not end the timed run early
        params.set_search_options(max_length=length, min_length=length, do_sample=False)

        def tokens() -> Iterator[object]:
            generator = og.Generator(self.model, params)
            generator.append_tokens(prompt)
            while not generator.is_done():
                generator.generate_next_token()
                yield generator.get_next_tokens()[0]

        return _timed(tokens(), new)


def anchor_runners(checkpoint: Path, work: Path, threads: int, context: int) -> list[Runner]:
    """Every anchor at `threads` threads, building the converted models on first use."""
    ggufs = build_gguf(checkpoint, work)
    genai = build_genai(checkpoint, work)
    runners: list[Runner] = [
        LlamaCppRunner(f"llama.cpp {name}", path, threads, context) for name, path in ggufs.items()
    ]
    runners += [GenaiRunner(f"onnxruntime-genai {p}", f, threads) for p, f in genai.items()]
    return runners


def file_megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.iterdir() if "onnx" in p.name]
    return sum(p.stat().st_size for p in files) / 1e6
