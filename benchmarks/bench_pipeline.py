"""Where `derain run`'s time goes at 640x360: the model step alone and inside the pipeline.

For one generated clip and the default model (loaded once, so start-up is not counted):

- the model alone on already decoded frames (frames/s and ms per model step);
- the whole pipeline (decode -> model -> encode threads) with the time spent in model steps,
  which shows how much decoding and encoding slow the model down when they share the cores;
- the pipeline with 1, 2, 4 and 8 frames pushed per model call.

Prints a table (no docs section: the findings are summarised by hand in docs/benchmarks.md).

    python -m benchmarks.bench_pipeline --repeats 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.bench_run import make_clip
from benchmarks.common import machine
from derain.inference import Derainer, derain_video
from derain.io import FrameReader


class TimedDerainer(Derainer):
    """A Derainer that adds up the wall time of its model steps."""

    model_seconds = 0.0

    def _step(self, *args):
        t0 = time.perf_counter()
        try:
            return super()._step(*args)
        finally:
            self.model_seconds += time.perf_counter() - t0


def pipeline(src: Path, dst: Path, derainer: TimedDerainer) -> tuple[float, float]:
    """frames/s of the whole pipeline and ms per frame spent in model steps."""
    derainer.model_seconds = 0.0
    t0 = time.perf_counter()
    summary = derain_video(src, dst, model=derainer, overwrite=True, progress=False)
    wall = time.perf_counter() - t0
    return summary.frames / wall, 1000 * derainer.model_seconds / summary.frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rrgnet")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{machine()}, {args.model}, 640x360, {args.frames} frames, {args.repeats} repeats")
    print("| setting | frames/s | ms per model step |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        src = make_clip(Path(tmp) / "clip.mp4", frames=args.frames, width=640, height=360)
        dst = Path(tmp) / "out.mp4"
        with FrameReader(src) as reader:
            frames = list(reader)
        for rep in range(args.repeats):
            derainer = TimedDerainer(args.model)
            list(derainer(frames[:8]))  # warm-up: oneDNN builds its kernels on the first calls
            derainer.model_seconds = 0.0
            t0 = time.perf_counter()
            n = sum(1 for _ in derainer(frames))
            alone = n / (time.perf_counter() - t0)
            print(f"| model alone (run {rep + 1}) | {alone:.1f} | {1000 * derainer.model_seconds / n:.1f} |")
            for chunk in (1, 2, 4, 8):
                derainer.chunk = chunk
                fps, ms = pipeline(src, dst, derainer)
                print(f"| pipeline, chunk {chunk} (run {rep + 1}) | {fps:.1f} | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
