"""Shared helpers for the benchmark scripts: timing, machine description, docs/benchmarks.md sections."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    """One line naming the CPU/GPU, cores and torch version the figures were taken on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def best_rate(fn: Callable[[], int], *, repeats: int = 3, warmup: int = 1) -> float:
    """Items per second of ``fn`` (which returns how many items it processed): best of ``repeats``.

    The best run is the least disturbed by other processes on a shared machine.
    """
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return max(rates)


def update_section(name: str, body: str, path: Path = DOCS) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` (append if absent)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nSpeed and memory figures; each section says which command reproduces it.\n"
    )
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    path.write_text(text)
