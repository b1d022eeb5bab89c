"""Validation during training: PSNR-Y on a fixed set of clips rendered once.

The validation clips come from the *training* split's clean material with their own seed, so
the test split stays untouched until the final evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import Dataset

from derain.metrics import psnr


def to_uint8_frames(clip: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` float in [0, 1] -> ``(M, H, W, 3)`` uint8, rounded like a saved PNG."""
    x = clip.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.reshape(-1, *x.shape[-3:]).permute(0, 2, 3, 1).cpu()


def make_validator(
    dataset: Dataset,
    predict: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    *,
    count: int = 16,
    batch: int = 4,
) -> Callable[[nn.Module], dict]:
    """A ``model -> {"psnr": dB, "psnr_input": dB}`` function over ``count`` fixed items of ``dataset``."""
    items = [dataset[i] for i in range(count)]
    batches = [
        {k: torch.stack([it[k] for it in items[i : i + batch]]) for k in ("rainy", "clean")}
        for i in range(0, count, batch)
    ]
    baseline = torch.cat([psnr(to_uint8_frames(b["rainy"]), to_uint8_frames(b["clean"])) for b in batches])

    def validate(model: nn.Module) -> dict:
        device = next(model.parameters()).device
        scores = []
        for b in batches:
            pred = predict(model, b["rainy"].to(device))
            scores.append(psnr(to_uint8_frames(pred), to_uint8_frames(b["clean"])))
        return {"psnr": float(torch.cat(scores).clamp(max=100).mean()), "psnr_input": float(baseline.mean())}

    return validate
