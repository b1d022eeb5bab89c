"""Speed of the rain synthesizer: training patches per second and data-set frames per second.

    python benchmarks/bench_synth.py            # prints a table, updates docs/benchmarks.md
    python benchmarks/bench_synth.py --quick    # fewer repetitions, no docs update

Targets (docs/rain.md): >= 100 training clips/s of 9x64x64 on one core (``torch.set_num_threads(1)``,
one process, no DataLoader workers) and >= 25 rendered frames/s at 640x360 for data-set generation.
Clean material: the bundled photographs, plus the TRAIN split of the shared clean data when present
(DAVIS videos, decoded once and cached like in training).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import torch

from derain.data.sources import bundled_sources
from derain.data.splits import split_sources
from derain.data.synthetic import SyntheticRainClips, clean_clip, plan_clips, write_dataset
from derain.rain import PRESETS, render_clip

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "clean"
BEGIN, END = "<!-- synth:begin -->", "<!-- synth:end -->"


def clips_per_second(sources, presets, n: int) -> tuple[float, float]:
    """(clips per wall-clock second, clips per CPU second of this process) for 9x64x64 patches."""
    ds = SyntheticRainClips(sources=sources, presets=presets, frames=9, patch=64, length=10 * n, seed=0)
    for i in range(len(ds.sources) * 2):  # decode and cache every source first, as an epoch would
        ds[n + i]
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        ds[i]
    return n / (time.perf_counter() - t), n / (time.process_time() - c)


def render_fps(preset: str, clips: int, frames: int) -> tuple[float, float]:
    """(frames per wall-clock second, per CPU second) of the synthesizer alone at 640x360."""
    plan = plan_clips(bundled_sources(), preset, clips=clips, frames=frames, height=360, width=640, seed=1)
    cleans = [clean_clip(src, params, fit="scale") for _, src, _, params in plan]  # clean clips: not timed
    t, c = time.perf_counter(), time.process_time()
    for (_, _, _, params), clean in zip(plan, cleans, strict=True):
        render_clip(clean, params)
    return clips * frames / (time.perf_counter() - t), clips * frames / (time.process_time() - c)


def write_fps(preset: str, clips: int, frames: int, workers: int, layers) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        write_dataset(
            Path(tmp) / "ds",
            preset=preset,
            clean=bundled_sources(),
            clips=clips,
            frames=frames,
            width=640,
            height=360,
            seed=1,
            fit="scale",
            workers=workers,
            layers=layers,
        )
        return clips * frames / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions; do not touch docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n = 60 if args.quick else 300
    frames = 5 if args.quick else 20
    bundled = bundled_sources()
    train = split_sources(SHARED, "train") if (SHARED / "manifest.csv").is_file() else None
    lines = [
        f"Measured on {platform.machine()} with {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start (other jobs share the cores: lower bounds), "
        f"torch {torch.__version__}, `torch.set_num_threads(1)`; `python benchmarks/bench_synth.py`.",
        "",
        "**Training patches** (`SyntheticRainClips`, 9 frames x 64x64, one process, one thread; "
        "target >= 100 clips/s):",
        "",
        "| presets | bundled stills: clips/s | per CPU-s | shared TRAIN split: clips/s | per CPU-s |",
        "|---|---:|---:|---:|---:|",
    ]
    for presets in [[p] for p in PRESETS] + [list(PRESETS)]:
        a = clips_per_second(bundled, presets, n)
        b = clips_per_second(train, presets, n) if train else (float("nan"),) * 2
        name = "all five, mixed" if len(presets) > 1 else presets[0]
        lines.append(f"| {name} | {a[0]:.0f} | {a[1]:.0f} | {b[0]:.0f} | {b[1]:.0f} |")
        print(lines[-1], flush=True)
    lines += [
        "",
        "**Data-set generation** at 640x360 (`derain synth`), frames/s. *render*: the synthesizer alone "
        "(rain layers from a clean clip, one thread; target >= 25); *write*: end to end with all five "
        "layers as PNG (compress level 1) on 1 or 2 encoder threads, and with `--layers input,gt`:",
        "",
        "| preset | render | render per CPU-s | write, 1 thread | 2 threads | input+gt only, 2 threads |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    all_layers = ("input", "gt", "streak", "alpha", "reliance")
    for preset in PRESETS:
        r = render_fps(preset, 2, frames)
        w1 = write_fps(preset, 1, frames, 1, all_layers)
        w2 = write_fps(preset, 1, frames, 2, all_layers)
        w3 = write_fps(preset, 1, frames, 2, ("input", "gt"))
        lines.append(f"| {preset} | {r[0]:.1f} | {r[1]:.1f} | {w1:.1f} | {w2:.1f} | {w3:.1f} |")
        print(lines[-1], flush=True)
    lines += ["", "PNG encoding (zlib), not rendering, bounds the end-to-end rate of `derain synth`."]
    if not args.quick:
        update_doc("\n".join(lines))
        print(f"updated {DOC}")


def update_doc(body: str) -> None:
    section = f"{BEGIN}\n## Rain synthesis\n\n{body}\n{END}"
    text = DOC.read_text() if DOC.is_file() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
