"""What RRGNet's frame-wide context layer costs at 640x360 (bf16), and whether cheaper forms help.

Times the layer's two memory-bound ops on the 1/4-resolution features alone (the frame mean and the
broadcast multiply-add, as written and in a float32-accumulated-sum / ``addcmul`` form), then the
whole model path with each form, interleaved so that the host's drift hits both alike. Numbers in
docs/rrgnet.md ("Width").

    python docs/experiments/context_cost.py
"""

from __future__ import annotations

import argparse
import time
import types

import torch
import torch.nn.functional as F

from derain import runtime
from derain.models import load_model


def _film_alt(self, x: torch.Tensor) -> torch.Tensor:
    mean = x.sum((2, 3), keepdim=True, dtype=torch.float32) / (x.shape[-2] * x.shape[-1])
    gain, shift = self.film(mean).chunk(2, dim=1)
    return torch.addcmul(shift.to(x.dtype), x, (1 + gain).to(x.dtype))


def _decode_alt(self, feats, skip, centre):
    # RRGNet.decode with the alternative context ops; everything else as shipped.
    weights = self.fuse.weight.split(self.config["width"], dim=1)
    x = F.conv2d(feats[0], weights[0], self.fuse.bias)
    for f, w in zip(feats[1:], weights[1:], strict=True):
        x = x + F.conv2d(f, w)
    x = self.fuse_blocks(_film_alt(self, F.relu(x)))
    x = F.pixel_shuffle(self.dec_up(x), 2)
    x = F.relu(self.dec_half(F.relu(x + skip)))
    return centre + F.pixel_shuffle(self.dec_out(x), 2)


def _ms(fn, repeats: int = 300) -> float:
    for _ in range(20):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def _fps(net, x, frames: int) -> float:
    dev = torch.device("cpu")
    with torch.inference_mode(), runtime.autocast(dev, "bf16"):
        state = net.stream_init()
        for _ in range(3):
            _, state = net.stream_push(x, state)
        t0 = time.perf_counter()
        for _ in range(frames):
            _, state = net.stream_push(x, state)
        return frames / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    runtime.set_cpu_threads()
    dev = torch.device("cpu")

    def engine_model():
        return runtime.cast_for_inference(runtime.prepare_model(load_model("rrgnet"), dev), "bf16")

    shipped, alt = engine_model(), engine_model()
    alt.decode = types.MethodType(_decode_alt, alt)
    width = shipped.config["width"]
    feats = torch.rand(1, width, 90, 160).to(memory_format=torch.channels_last).bfloat16()
    gain = shift = torch.rand(1, width, 1, 1).bfloat16()
    with torch.inference_mode():
        print(f"mean, bf16: {_ms(lambda: feats.mean((2, 3), keepdim=True)):.3f} ms")
        fp32_sum = _ms(lambda: feats.sum((2, 3), keepdim=True, dtype=torch.float32))
        print(f"sum, fp32 accumulation: {fp32_sum:.3f} ms")
        print(f"x * (1 + g) + b: {_ms(lambda: feats * (1 + gain) + shift):.3f} ms")
        print(f"addcmul: {_ms(lambda: torch.addcmul(shift, feats, 1 + gain)):.3f} ms")
    x = torch.rand(1, 1, 3, 360, 640)
    a, b = [], []
    for _ in range(args.rounds):
        a.append(_fps(shipped, x, args.frames))
        b.append(_fps(alt, x, args.frames))
    for name, runs in (("shipped ops", a), ("alternative", b)):
        each = ", ".join(f"{v:.1f}" for v in runs)
        print(f"whole model path, {name}: {sum(runs) / len(runs):.1f} frames/s ({each})")


if __name__ == "__main__":
    main()
