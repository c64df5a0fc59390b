"""What every benchmark records: the machine, the versions, its load, and one JSON result."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    wanted = {"avx", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "fma"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return sorted(wanted & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    import psutil

    from persian_chat.versions import package_versions

    names = ("persian-chat", "torch", "transformers", "peft", "onnxruntime", "optimum")
    versions = {name: v for name, v in package_versions(names).items() if v}
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "versions": versions,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def describe(result: dict[str, Any]) -> str:
    """A result as report.md shows it: its title, what was measured and how, its tables.
    Every benchmark prints this text when it writes its result, so the terminal and the
    report say the same thing."""
    parts = [f"### {result.get('title', 'Benchmark')}"]
    if result.get("description"):
        parts.append(str(result["description"]))
    table = result.get("table")
    if table:
        parts.append(markdown_table(table["header"], table["rows"]))
    for extra in result.get("tables") or []:
        parts += [f"**{extra['title']}**", markdown_table(extra["header"], extra["rows"])]
    return "\n\n".join(parts)


def publish(name: str, result: dict[str, Any]) -> Path:
    """Write the result (benchmarks/results/NAME.json) and print what report.md will say."""
    path = write_result(name, result)
    print(f"wrote {path}\n\n{describe(result)}", flush=True)
    return path


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def save_bar_chart(labels: list[str], values: list[float], xlabel: str, path: Path) -> None:
    """One horizontal bar per run, first run on top (the benchmarks' summary picture)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=120)
    axes.barh(labels, values, color="#4c72b0")
    axes.set_xlabel(xlabel)
    axes.invert_yaxis()
    axes.grid(axis="x", alpha=0.3)
    save_plot(figure, path)


def save_plot(figure: Any, path: Path) -> None:
    """Write a matplotlib figure atomically (a half-written PNG never replaces a good one)."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=110)
    tmp.replace(path)
    plt.close(figure)
