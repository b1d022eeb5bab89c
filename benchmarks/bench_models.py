"""Model speed: frames/s of RRGNet and J4R-Net at 360p / 720p / 1080p, fp32 and bf16, side by side.

Measures the streaming engine's model path (tensor in, tensor out, no decode/encode) in one run,
so the two models' ratio is taken under the same conditions; and training samples/s.

    python -m benchmarks.bench_models            # writes the 'models' section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import best_rate, machine, update_section
from derain import runtime
from derain.models import build_model, load_model, shipped_weights
from derain.train.losses import J4RObjective, RestorationObjective

SIZES = {"640x360": (360, 640), "1280x720": (720, 1280), "1920x1080": (1080, 1920)}


def model(name: str) -> torch.nn.Module:
    return load_model(name) if name in shipped_weights() else build_model(name).eval()


def inference_fps(net: torch.nn.Module, size: tuple[int, int], precision: str, frames: int) -> float:
    device = torch.device("cpu")
    net = runtime.cast_for_inference(runtime.prepare_model(net, device), precision)  # as the engine does
    x = torch.rand(1, 1, 3, *size)

    def run() -> int:
        with torch.inference_mode(), runtime.autocast(device, precision):
            state = net.stream_init()
            for _ in range(frames):
                _, state = net.stream_push(x, state)
        return frames

    return best_rate(run, repeats=2)


def training_rate(arch: str, precision: str, steps: int = 4) -> float:
    """Training clips/s at the recipe's clip shape (J4R-Net 9x32x32, RRGNet 7x64x64), batch 16."""
    net = runtime.prepare_model(build_model(arch).train(), torch.device("cpu"))
    t, p = (9, 32) if arch == "j4rnet" else (7, 64)
    batch = {
        k: torch.rand(16, t, c, p, p) for k, c in (("rainy", 3), ("clean", 3), ("streak", 3), ("reliance", 3))
    }
    batch["alpha"] = (torch.rand(16, t, 1, p, p) > 0.95).float()
    objective = J4RObjective() if arch == "j4rnet" else RestorationObjective()
    opt = torch.optim.Adam(net.parameters())

    def run() -> int:
        for _ in range(steps):
            with runtime.autocast(torch.device("cpu"), precision):
                loss, _ = objective(net, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return steps * 16

    return best_rate(run, repeats=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12, help="frames per measurement (RRGNet)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    runtime.set_cpu_threads()
    precisions = ["fp32", "bf16"] if runtime.cpu_supports_bf16() else ["fp32"]
    rows, fps = [], {}
    for size_name, size in SIZES.items():
        for prec in precisions:
            for arch in ("rrgnet", "j4rnet"):
                n = args.frames if arch == "rrgnet" else max(2, args.frames // 6)
                if arch == "j4rnet" and size_name != "640x360" and prec == "fp32":
                    continue  # minutes per point, and the bf16 figure tells the story
                fps[(arch, size_name, prec)] = inference_fps(model(arch), size, prec, n)
                print(f"{arch} {size_name} {prec}: {fps[(arch, size_name, prec)]:.2f} frames/s", flush=True)
    for size_name in SIZES:
        for prec in precisions:
            r, j = fps.get(("rrgnet", size_name, prec)), fps.get(("j4rnet", size_name, prec))
            ratio = f"{r / j:.1f}x" if r and j else "—"
            rows.append(
                f"| {size_name} | {prec} | {r:.1f} | {j:.2f} | {ratio} |"
                if j
                else f"| {size_name} | {prec} | {r:.1f} | — | — |"
            )
    train = {(a, p): training_rate(a, p) for a in ("rrgnet", "j4rnet") for p in precisions}
    body = [
        "## Models (inference and training speed)",
        "",
        f"`python -m benchmarks.bench_models` on {machine()}, {time.strftime('%Y-%m-%d')}. Model path only",
        "(tensors in and out, one frame per call as `derain run` streams them; no decoding or encoding).",
        "",
        "| frame size | precision | RRGNet frames/s | J4R-Net frames/s | RRGNet / J4R-Net |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Training throughput (clips/s, batch 16; J4R-Net 9x32x32 clips, RRGNet 7x64x64 clips):",
        "",
        "| model | " + " | ".join(precisions) + " |",
        "|---|" + "---|" * len(precisions),
        *(
            f"| {a} | " + " | ".join(f"{train[(a, p)]:.1f}" for p in precisions) + " |"
            for a in ("rrgnet", "j4rnet")
        ),
    ]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        update_section("models", text)


if __name__ == "__main__":
    main()
