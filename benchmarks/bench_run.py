"""End-to-end `derain run` speed and memory: decode + model + encode, as a user runs it.

- frames/s of `derain run` with the default model on generated 360p / 720p / 1080p clips;
- peak RSS of a 2,000-frame clip against a 100-frame clip (must be within 10%);
- peak RSS of a 3840x2160 clip (must stay under 4 GiB).

Each run is a fresh Python process calling `derain_video`; its peak RSS is its VmHWM.

    python -m benchmarks.bench_run        # writes the 'run' section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.common import machine, update_section

# Peak RSS from VmHWM: getrusage's ru_maxrss survives fork+exec on Linux and would report the
# parent's peak (this script holds large generated clips) instead of the child's.
_CHILD = """
import json, re, sys, time
from derain.inference import derain_video
t0 = time.perf_counter()
s = derain_video(sys.argv[1], sys.argv[2], model=sys.argv[3], overwrite=True, progress=False)
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"frames": s.frames, "seconds": time.perf_counter() - t0, "peak_rss_mb": hwm / 1024}))
"""


def make_clip(path: Path, *, frames: int, width: int, height: int) -> Path:
    """A rainy-looking synthetic clip: the bundled demo sample, resized and looped."""
    import torch
    import torch.nn.functional as F

    from derain.commands.demo import sample_clip
    from derain.io import FrameWriter

    rainy, _ = sample_clip(frames=min(frames, 24), width=640, height=360)
    x = torch.from_numpy(rainy).permute(0, 3, 1, 2).float()
    if (height, width) != (360, 640):
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    clip = x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    order = np.concatenate([np.arange(len(clip)), np.arange(len(clip) - 2, 0, -1)])  # ping-pong loop
    with FrameWriter(path, fps=Fraction(30000, 1001), overwrite=True) as writer:
        for i in range(frames):
            writer.write(clip[order[i % len(order)]])
    return path


def run_child(src: Path, dst: Path, model: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), str(dst), model], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rrgnet")
    parser.add_argument("--frames", type=int, default=300, help="frames of each speed clip")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (w, h, n) in {
            "640x360": (640, 360, args.frames),
            "1280x720": (1280, 720, args.frames // 2),
            "1920x1080": (1920, 1080, args.frames // 4),
        }.items():
            src = make_clip(tmp / f"{name}.mp4", frames=n, width=w, height=h)
            results[name] = run_child(src, tmp / "out.mp4", args.model)
            print(name, results[name], flush=True)
        for n in (100, 2000):
            src = make_clip(tmp / f"long{n}.mp4", frames=n, width=640, height=360)
            results[f"rss{n}"] = run_child(src, tmp / "out.mp4", args.model)
            print(n, results[f"rss{n}"], flush=True)
        src = make_clip(tmp / "4k.mp4", frames=6, width=3840, height=2160)
        results["4k"] = run_child(src, tmp / "out.mp4", args.model)
        print("4k", results["4k"], flush=True)
    growth = results["rss2000"]["peak_rss_mb"] / results["rss100"]["peak_rss_mb"] - 1
    rows = [
        f"| {k} | {v['frames']} | {v['frames'] / v['seconds']:.1f} | {v['peak_rss_mb']:.0f} |"
        for k, v in results.items()
        if "x" in k
    ]
    body = "\n".join(
        [
            "## End-to-end `derain run` (decode + model + encode)",
            "",
            f"`python -m benchmarks.bench_run --model {args.model}` on {machine()}, "
            f"{time.strftime('%Y-%m-%d')}. Generated H.264 clips (the bundled rainy sample, resized),",
            "30000/1001 fps, written as H.264 crf 18.",
            "",
            "| input | frames | frames/s (whole command) | peak RSS (MB) |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Memory: 100-frame clip {results['rss100']['peak_rss_mb']:.0f} MB, 2,000-frame clip "
            f"{results['rss2000']['peak_rss_mb']:.0f} MB peak RSS ({growth:+.1%}); 3840x2160: "
            f"{results['4k']['peak_rss_mb']:.0f} MB ({results['4k']['frames']} frames, "
            f"{results['4k']['frames'] / results['4k']['seconds']:.2f} frames/s).",
        ]
    )
    print(body)
    if not args.no_write:
        update_section("run", body)


if __name__ == "__main__":
    main()
