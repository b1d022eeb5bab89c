"""PyTorch vs ONNX Runtime vs OpenVINO for RRGNet's per-frame streaming work, side by side.

Streaming RRGNet does, per frame, one group encoding and one decode (docs/rrgnet.md). This script
exports exactly those two subgraphs to ONNX and times them at 640x360 in each runtime, in the same
process, so the numbers are comparable. It needs the optional packages `onnx onnxscript
onnxruntime openvino` (not dependencies of derain: the decision this benchmark informs is recorded
in docs/benchmarks.md).

    python -m benchmarks.bench_backends       # writes the 'backends' section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from benchmarks.common import best_rate, machine, update_section
from derain import runtime
from derain.models import load_model, shipped_weights
from derain.models.rrgnet import RRGNet


class _Step(nn.Module):
    """One streaming step: encode the newest group, decode the centre window (cached features).

    Per-frame unshuffling (a reshape) stays in the caller, as in RRGNet's own streaming.
    """

    def __init__(self, net: RRGNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, group, f0, f1, skip, centre):
        new_skip, f2 = self.net.encode(group)
        return self.net.decode([f0, f1, f2], skip, centre), new_skip, f2


def _inputs(net: RRGNet, h: int, w: int) -> tuple[torch.Tensor, ...]:
    width, skip_w = net.config["width"], net.config["skip_width"]
    return (
        torch.rand(1, 12 * net.group_size, h // 2, w // 2),  # a group of unshuffled frames
        torch.rand(1, width, h // 4, w // 4),
        torch.rand(1, width, h // 4, w // 4),
        torch.rand(1, skip_w, h // 2, w // 2),
        torch.rand(1, 3, h, w),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    runtime.set_cpu_threads()
    net = load_model("rrgnet") if "rrgnet" in shipped_weights() else RRGNet().eval()
    step = _Step(net).eval()
    h, w = 360, 640
    inputs = _inputs(net, h, w)
    rates = {}

    def torch_rate(precision: str) -> float:
        model = runtime.prepare_model(step, torch.device("cpu"))
        xs = [x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in inputs]

        def run() -> int:
            with torch.inference_mode(), runtime.autocast(torch.device("cpu"), precision):
                for _ in range(args.frames):
                    model(*xs)
            return args.frames

        return best_rate(run)

    rates["PyTorch fp32"] = torch_rate("fp32")
    if runtime.cpu_supports_bf16():
        rates["PyTorch bf16 + channels_last (derain's default)"] = torch_rate("bf16")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "rrgnet_step.onnx"
        torch.onnx.export(
            step,
            inputs,
            str(onnx_path),
            input_names=["group", "f0", "f1", "skip", "centre"],
            output_names=["out", "new_skip", "f2"],
            opset_version=18,
            dynamo=False,
        )
        feeds = {n: x.numpy() for n, x in zip(["group", "f0", "f1", "skip", "centre"], inputs, strict=True)}
        try:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = torch.get_num_threads()
            sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

            def ort_run() -> int:
                for _ in range(args.frames):
                    sess.run(None, feeds)
                return args.frames

            rates[f"ONNX Runtime {ort.__version__} fp32"] = best_rate(ort_run)
        except ImportError:
            print("onnxruntime not installed: skipped")
        try:
            import openvino as ov

            core = ov.Core()
            for hint in ("f32", "bf16"):
                compiled = core.compile_model(
                    str(onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
                )
                request = compiled.create_infer_request()

                def ov_run(request=request) -> int:
                    for _ in range(args.frames):
                        request.infer(feeds)
                    return args.frames

                rates[f"OpenVINO {ov.__version__.split('-')[0]} {hint}"] = best_rate(ov_run)
        except ImportError:
            print("openvino not installed: skipped")
    ref = rates.get("PyTorch bf16 + channels_last (derain's default)", rates["PyTorch fp32"])
    rows = [f"| {k} | {v:.1f} | {v / ref:.2f}x |" for k, v in rates.items()]
    body = "\n".join(
        [
            "## Inference backends (RRGNet streaming step, 640x360)",
            "",
            f"`python -m benchmarks.bench_backends` on {machine()}, {time.strftime('%Y-%m-%d')}: one group",
            "encoding + one decode per frame (what streaming costs), the same graph in each runtime.",
            "",
            "| backend | frames/s | vs derain's default |",
            "|---|---|---|",
            *rows,
        ]
    )
    print(body)
    if not args.no_write:
        update_section("backends", body)


if __name__ == "__main__":
    main()
