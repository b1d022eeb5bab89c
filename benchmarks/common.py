"""Shared helpers for the benchmark scripts: timing, machine description, docs/benchmarks.md sections."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from derain import report

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
    """Replace the section ``name`` of docs/benchmarks.md (see :func:`derain.report.update_section`)."""
    title = "# Benchmarks\n\nSpeed and memory figures; each section says which command reproduces it.\n"
    report.update_section(path, name, body, title=title)
