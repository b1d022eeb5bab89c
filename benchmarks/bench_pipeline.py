"""Where `derain run`'s time goes at 640x360: the model step alone and inside the pipeline.

For one generated clip and the default model (loaded once, so start-up is not counted):

- the model alone on already decoded frames (frames/s and ms per model step), with the weights
  cast to bf16 once (what the engine does) and left in fp32 for autocast to cast on every call;
- the whole pipeline (decode -> model -> encode threads) with the time spent in model steps,
  which shows how much decoding and encoding slow the model down when they share the cores;
- the pipeline with 1, 2, 4 and 8 frames pushed per model call.

Prints a table (no docs section: the findings are summarised by hand in docs/benchmarks.md).

    python -m benchmarks.bench_pipeline --repeats 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.bench_run import make_clip
from benchmarks.common import machine
from derain import runtime
from derain.inference import Derainer, derain_video
from derain.io import FrameReader
from derain.models import load_model


class TimedDerainer(Derainer):
    """A Derainer that adds up the wall time of its model steps."""

    model_seconds = 0.0

    def _step(self, *args):
        t0 = time.perf_counter()
        try:
            return super()._step(*args)
        finally:
            self.model_seconds += time.perf_counter() - t0


def pipeline(src: Path, dst: Path, derainer: TimedDerainer) -> tuple[float, float, float]:
    """frames/s of the whole pipeline, ms per frame spent in model steps, and cores kept busy."""
    derainer.model_seconds = 0.0
    cpu0, t0 = sum(os.times()[:2]), time.perf_counter()
    summary = derain_video(src, dst, model=derainer, overwrite=True, progress=False)
    wall = time.perf_counter() - t0
    busy = (sum(os.times()[:2]) - cpu0) / wall
    return summary.frames / wall, 1000 * derainer.model_seconds / summary.frames, busy


def alone(derainer: TimedDerainer, frames: list) -> tuple[float, float]:
    """frames/s and ms per model step on frames already in memory."""
    derainer.model_seconds = 0.0
    t0 = time.perf_counter()
    n = sum(1 for _ in derainer(frames))
    return n / (time.perf_counter() - t0), 1000 * derainer.model_seconds / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rrgnet")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{machine()}, {args.model}, 640x360, {args.frames} frames, {args.repeats} repeats")
    print("| setting | frames/s | ms per model step | cores busy |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        src = make_clip(Path(tmp) / "clip.mp4", frames=args.frames, width=640, height=360)
        dst = Path(tmp) / "out.mp4"
        with FrameReader(src) as reader:
            frames = list(reader)
        for rep in range(args.repeats):
            derainer = TimedDerainer(args.model)
            list(derainer(frames[:8]))  # warm-up: oneDNN builds its kernels on the first calls
            fps, ms = alone(derainer, frames)
            print(f"| model alone (run {rep + 1}) | {fps:.1f} | {ms:.1f} | — |")
            cast = derainer.model
            if derainer.precision != "fp32":
                derainer.model = runtime.prepare_model(load_model(args.model).eval(), derainer.device)
                list(derainer(frames[:8]))
                fps, ms = alone(derainer, frames)
                print(f"| model alone, weights cast per call (run {rep + 1}) | {fps:.1f} | {ms:.1f} | — |")
                derainer.model = cast
            for chunk in (1, 2, 4, 8):
                derainer.chunk = chunk
                fps, ms, busy = pipeline(src, dst, derainer)
                row = f"| pipeline, chunk {chunk} (run {rep + 1}) | {fps:.1f} | {ms:.1f} | {busy:.2f} |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
