"""Prompt-lookup decoding on and off: the served engine, one request at a time (the case it
applies to), on first user turns spread over the test set (the chat evaluation's kind of
prompt) with the default system prompt, at the default sampling and greedy.

Reports per setting: generated tokens/s (all requests' tokens over their wall time, prefill
included), draft tokens checked and kept, and whether every answer equals the answer with
lookup off. The engine's logic is exact (tested on tiny models), but a step of several
tokens runs onnxruntime's int8 MatMulNBits on another kernel path than a one-token step, so
the logits differ slightly and a near tie can flip: the benchmark measures that difference
on the served graph too. Settings interleave within each repeat.

    persian-chat bench lookup [--model models/persian-chat-onnx-int8] [--drafts 0 2 3 4]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from persian_chat.benchmarks.common import load_average, machine_info, publish

HEADER = [
    "sampling",
    "draft tokens",
    "tok/s (median)",
    "vs off",
    "drafted",
    "kept",
    "same answers as off",
]


def step_difference(decoder: Any, prompt: list[int], tokens: list[int]) -> float:
    """Largest |logit| difference between feeding `tokens` in one step and one at a time."""
    import numpy as np

    from persian_chat.server.kv.slot_cache import SlotBuffers

    together, alone = SlotBuffers(decoder), SlotBuffers(decoder)
    decoder.prefill(together, 0, prompt)
    decoder.prefill(alone, 0, prompt)
    length = np.array([len(prompt)])
    ahead = decoder.step(together, 0, np.array([tokens]), length)[0]
    single = [
        decoder.step(alone, 0, np.array([[t]]), length + i)[0, -1] for i, t in enumerate(tokens)
    ]
    return float(np.abs(ahead - np.stack(single)).max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("models/persian-chat-onnx-int8"))
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--drafts", type=int, nargs="+", default=[0, 2, 3, 4])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="prompt_lookup")
    args = parser.parse_args(argv)

    from persian_chat.benchmarks.serving_load import run_prompts, user_prompts
    from persian_chat.server.engine.sampling import DEFAULT_SAMPLING
    from persian_chat.server.http.api_schema import ChatRequest
    from persian_chat.server.http.prompt_request import build_prompt
    from persian_chat.server.http.runtime import build_engine, make_normalizer
    from persian_chat.server.kv.onnx_model import load_decoder
    from persian_chat.server.settings import ServerSettings
    from persian_chat.server.text.prompt import system_prefix
    from persian_chat.server.text.served_model import load_served_model

    model = load_served_model(args.model)
    settings = ServerSettings(model_dir=args.model, threads=args.threads)
    normalize = make_normalizer(model)
    bodies = [
        ChatRequest.model_validate({"messages": [{"role": "user", "content": text}]})
        for text in user_prompts(args.data_dir, args.prompts)
    ]
    prompts = [
        build_prompt(body, args.tokens, model, settings, normalize).request.prompt
        for body in bodies
    ]
    decoder = load_decoder(model.onnx_path, args.threads)
    prefix = system_prefix(model, settings)
    engines = {draft: build_engine(model, decoder, 1, 4, prefix, 0, draft) for draft in args.drafts}
    for engine in engines.values():
        engine.start()
    modes = {
        "default (temperature 0.3, no-repeat 4-grams)": DEFAULT_SAMPLING,
        "greedy": replace(DEFAULT_SAMPLING, temperature=0.0),
    }
    difference = step_difference(decoder, prompts[0], prompts[1][-4:])
    load_before = load_average()
    rates: dict[tuple[str, int], list[float]] = {}
    answers: dict[tuple[str, int], list[list[int]]] = {}
    counts: dict[tuple[str, int], list[int]] = {}
    try:
        run_prompts(engines[args.drafts[0]], prompts[:2], DEFAULT_SAMPLING, 8, model.stop_ids)
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}", flush=True)
            for mode, params in modes.items():
                for draft, engine in engines.items():
                    before = (engine.drafted, engine.accepted)
                    got, wall = run_prompts(engine, prompts, params, args.tokens, model.stop_ids)
                    rates.setdefault((mode, draft), []).append(sum(map(len, got)) / wall)
                    answers[(mode, draft)] = got
                    counts[(mode, draft)] = [
                        engine.drafted - before[0],
                        engine.accepted - before[1],
                    ]
    finally:
        for engine in engines.values():
            engine.shutdown(0)
            engine.join(10)
    off = args.drafts[0]
    rows, runs = [], []
    for (mode, draft), values in rates.items():
        median = statistics.median(values)
        base = statistics.median(rates[(mode, off)])
        drafted, kept = counts[(mode, draft)]
        same = answers[(mode, draft)] == answers[(mode, off)]
        runs.append(
            {
                "sampling": mode,
                "draft_tokens": draft,
                "tokens_per_sec": values,
                "drafted": drafted,
                "kept": kept,
                "same_answers": same,
            }
        )
        rows.append(
            [
                mode,
                str(draft),
                f"{median:.1f}",
                f"{median / base:.2f}x",
                str(drafted),
                f"{kept} ({kept / drafted:.0%})" if drafted else "0",
                "yes" if same else "NO",
            ]
        )
    result = {
        "title": "Prompt-lookup decoding (one request at a time)",
        "description": (
            f"The served engine in process ({args.model}), {args.threads} threads, "
            f"{len(prompts)} first user turns spread over the test set with the default "
            f"system prompt, up to {args.tokens} new tokens each, one after another; "
            f"{args.repeats} interleaved repeats. Draft tokens are checked in one step with "
            f"the pending token; 'kept' are those the request's own sampler confirmed. "
            f"Largest logit difference between a 4-token step and 4 one-token steps on this "
            f"graph: {difference:.2g}."
        ),
        "step_logit_difference": difference,
        "machine": machine_info(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "load_before": load_before,
        "load_after": load_average(),
        "runs": runs,
        "table": {"header": HEADER, "rows": rows},
    }
    publish(args.name, result)


if __name__ == "__main__":
    main()
