"""RRGNet width variants at 640x360, bf16: the table in docs/rrgnet.md ("Width").

For each (width, fusion blocks, frame-wide context layer): parameters, model-path frames/s (2
threads), model core-ms per frame on one thread (the share of the CPU the model takes from
decoding and encoding), and `derain run`-style end-to-end frames/s on a generated clip. Random
weights: same compute as trained.

    python -m benchmarks.bench_width          # prints the table; run on an otherwise idle machine
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from benchmarks.bench_models import inference_fps
from benchmarks.bench_run import make_clip, run_child
from derain import runtime
from derain.models import build_model, save_weights

VARIANTS = [(48, 3, True), (48, 3, False), (48, 2, True), (40, 2, True), (32, 3, True)]


def core_ms_per_frame(net: torch.nn.Module, frames: int) -> float:
    runtime.set_cpu_threads(1)
    try:
        x = torch.rand(1, 1, 3, 360, 640)
        net = runtime.prepare_model(net, torch.device("cpu"))
        with torch.inference_mode(), runtime.autocast(torch.device("cpu"), "bf16"):
            state = net.stream_init()
            _, state = net.stream_push(x, state)  # warm-up
            t0 = sum(os.times()[:2])
            for _ in range(frames):
                _, state = net.stream_push(x, state)
            return (sum(os.times()[:2]) - t0) / frames * 1000
    finally:
        runtime.set_cpu_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames of the end-to-end clip")
    args = parser.parse_args()
    runtime.set_cpu_threads()
    print("| width / fusion blocks | context | parameters | model frames/s | model core-ms (1 thread) "
          "| e2e frames/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", frames=args.frames, width=640, height=360)
        for width, blocks, context in VARIANTS:
            torch.manual_seed(0)
            net = build_model("rrgnet", width=width, fusion_blocks=blocks, context=context).eval()
            params = sum(p.numel() for p in net.parameters())
            fps = inference_fps(net, (360, 640), "bf16", 24)
            core_ms = core_ms_per_frame(net, 24)
            weights = save_weights(net, Path(tmp) / f"w{width}f{blocks}c{int(context)}.safetensors")
            e2e = run_child(clip, Path(tmp) / "out.mp4", str(weights))
            print(
                f"| {width} / {blocks} | {'yes' if context else 'no'} | {params / 1000:.0f}k | {fps:.1f} | "
                f"{core_ms:.1f} | {e2e['frames'] / e2e['seconds']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
