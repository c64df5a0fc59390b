"""Run a benchmark: persian-chat bench NAME [options]; NAME --help lists its options.

decode        decode tokens/s: PyTorch, Optimum ORT and our engine; TTFT; bandwidth ceiling
serving       a live server under 1/4/8/16 streaming clients; RSS, start-up, sizes
quantization  int8 settings: perplexity, size and speed
lookup        prompt-lookup decoding on and off, one request at a time
session       onnxruntime session options (threads, spinning, optimization level)
train         training step time with and without vocabulary trimming and LoRA
recipes       training recipes on the same time budget, by held-out loss
retrieval     knowledge retrieval: recall, the "nothing relevant" line, latency at 1M passages
structured    JSON-schema answers: validity, field accuracy, decode speed with the mask
harness       lm-evaluation-harness tasks of our own through /v1/completions (extra: harness)

Results go to benchmarks/results/NAME*.json (+ .png) and into report.md.
"""

from __future__ import annotations

import argparse
import importlib

HELP = (
    "run a benchmark (decode, serving, quantization, lookup, session, train, recipes, "
    "retrieval, structured, harness)"
)
MODULES = {
    "decode": "persian_chat.benchmarks.decode_throughput",
    "serving": "persian_chat.benchmarks.serving_load",
    "quantization": "persian_chat.benchmarks.quantization",
    "lookup": "persian_chat.benchmarks.lookup_decoding",
    "session": "persian_chat.benchmarks.session_options",
    "train": "persian_chat.benchmarks.train_throughput",
    "recipes": "persian_chat.benchmarks.train_recipes",
    "retrieval": "persian_chat.benchmarks.retrieval",
    "structured": "persian_chat.benchmarks.structured_output",
    "harness": "persian_chat.benchmarks.harness",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(MODULES), help="which benchmark")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that benchmark")


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(MODULES[args.name])
    module.main(list(args.options))
    return 0
