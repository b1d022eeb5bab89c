"""Device, precision and thread choices shared by training and inference.

``auto`` means: CUDA when present, else the CPU; on the CPU bf16 autocast + ``channels_last``
when oneDNN reports native bf16 support (AVX-512-BF16 / AMX: 2-3x faster convs than fp32 on the
2-core machine we measured, see docs/benchmarks.md), fp32 otherwise; fp16 on CUDA.
"""

from __future__ import annotations

import contextlib
import os

import torch

from derain.errors import DerainError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def cpu_supports_bf16() -> bool:
    """True when oneDNN runs bf16 convolutions natively on this CPU (not emulated)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a usable :class:`torch.device` (DerainError if not)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DerainError(f"unknown device {name!r}: use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DerainError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise DerainError(f"unsupported device {name!r}: use auto, cpu or cuda")
    return device


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> bf16 on capable CPUs, fp16 on CUDA, else fp32; checks explicit choices."""
    if name not in PRECISIONS:
        raise DerainError(f"unknown precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if cpu_supports_bf16() else "fp32"
    if name == "fp16" and device.type == "cpu":
        raise DerainError("fp16 is not supported on the CPU; use bf16 or fp32")
    return name


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a model to ``device`` in ``channels_last`` (fast for oneDNN and cuDNN alike)."""
    return model.to(device=device, memory_format=torch.channels_last)


# The layers whose weights autocast casts to the low-precision dtype on every call.
_AUTOCAST_CAST = (
    torch.nn.Conv1d,
    torch.nn.Conv2d,
    torch.nn.Conv3d,
    torch.nn.ConvTranspose2d,
    torch.nn.Linear,
)


def cast_for_inference(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """Store conv / linear weights in the autocast dtype once, for inference under :func:`autocast`.

    Autocast casts a layer's fp32 weight to bf16/fp16 on every call and only caches the cast while
    one autocast context stays open; the engine opens one per chunk (so that it never leaks into the
    caller's code), which repeated the casts for every frame (3% of a one-thread 640x360 RRGNet
    profile; inside the noise at two threads, `benchmarks/bench_pipeline.py`). The
    layers see the very same low-precision weights either way, so outputs are bit-identical.
    Modifies ``model`` in place (fp32: untouched) and returns it.
    """
    if precision == "fp32":
        return model
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    for module in model.modules():
        if isinstance(module, _AUTOCAST_CAST):
            module.to(dtype)
    return model


def set_cpu_threads(threads: int | None = None) -> int:
    """Use the cores for intra-op work unless told otherwise (or OMP_NUM_THREADS is set).

    Under torchrun the cores are shared between the processes of this machine.
    """
    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()
        per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        threads = (os.cpu_count() or 1) // max(1, per_machine)
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()
