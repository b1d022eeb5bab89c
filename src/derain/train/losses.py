"""Loss functions and the per-model training objectives.

An *objective* knows how one model family turns a batch from ``derain.data`` into a loss; the
generic :class:`~derain.train.trainer.Trainer` knows nothing else about models. A batch is a
dict of float tensors shaped ``(N, T, C, h, w)``: ``rainy`` (O), ``clean`` (B), ``streak`` (S),
``alpha`` (C=1, in {0, 1}) and ``reliance`` (A).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# -- building blocks ----------------------------------------------------------------------------


def _gaussian_kernel(sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def high_pass(x: torch.Tensor, *, sigma: float = 1.5) -> torch.Tensor:
    """E(x) of the paper's l_rect: the image minus its Gaussian blur (sigma 1.5, reflect borders).

    "Image minus Gaussian" keeps edges and textures (what occlusions destroy) and drops the smooth
    illumination that the joint loss already constrains; a Laplacian would weight noise more.

    Shape:
        ``(..., C, H, W)`` -> same.
    """
    shape = x.shape
    flat = x.reshape(-1, 1, *shape[-2:]).float()
    k = _gaussian_kernel(sigma, flat.device, flat.dtype)
    r = k.numel() // 2
    blurred = F.pad(flat, (r, r, r, r), mode="reflect")
    blurred = F.conv2d(blurred, k.view(1, 1, 1, -1))
    blurred = F.conv2d(blurred, k.view(1, 1, -1, 1))
    return (flat - blurred).reshape(shape)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-3) -> torch.Tensor:
    """A smooth L1: sqrt((p - t)^2 + eps^2), averaged."""
    return torch.sqrt((pred.float() - target.float()) ** 2 + eps**2).mean()


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred.float(), target.float())


# -- objectives ---------------------------------------------------------------------------------


@dataclass
class J4RObjective:
    """l_all = l_joint + lambda_d l_detect + lambda_c l_rect + lambda_r l_removal (paper's weights).

    - l_joint: MSE between B^ and B;
    - l_detect: 2-class cross-entropy between D-Net's logits and the true alpha;
    - l_rect: MSE between high-pass filtered B^ and B (:func:`high_pass`);
    - l_removal: MSE between R-Net's streak estimate S^ and the true streak layer S.

    ``single_frame=True`` is stage 1 (pre-training of first conv, extractor and R-Net on single
    frames): its loss is the removal branch's ``||O - S^ - B||^2 + lambda_r ||S^ - S||^2``.
    """

    single_frame: bool = False
    lambda_detect: float = 1e-3
    lambda_rect: float = 1e-4
    lambda_removal: float = 1e-4

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        rainy, clean, streak = batch["rainy"], batch["clean"], batch["streak"]
        if self.single_frame:
            out = model(rainy, single_frame=True)
            l_joint = mse(out["clean"], clean)
            l_removal = mse(out["streak"], streak)
            loss = l_joint + self.lambda_removal * l_removal
            return loss, {"joint": l_joint.item(), "removal": l_removal.item()}
        out = model(rainy)
        l_joint = mse(out["clean"], clean)
        l_removal = mse(out["streak"], streak)
        l_rect = mse(high_pass(out["clean"]), high_pass(clean))
        logits = out["alpha_logits"].flatten(0, 1).float()  # (N*T, 2, h, w)
        target = batch["alpha"].flatten(0, 1)[:, 0].long()
        l_detect = F.cross_entropy(logits, target)
        loss = (
            l_joint
            + self.lambda_detect * l_detect
            + self.lambda_rect * l_rect
            + self.lambda_removal * l_removal
        )
        logs = {
            "joint": l_joint.item(),
            "detect": l_detect.item(),
            "rect": l_rect.item(),
            "removal": l_removal.item(),
        }
        return loss, logs

    def predict(self, model: nn.Module, rainy: torch.Tensor) -> torch.Tensor:
        """Derained clip ``(N, T, 3, h, w)`` for validation."""
        return model(rainy, single_frame=self.single_frame)["clean"]


@dataclass
class RestorationObjective:
    """Charbonnier loss on the restored centre frames of a window model (RRGNet).

    The model sees the whole ``T``-frame clip without padding and restores the ``T - window + 1``
    centre frames that have a full window; the loss compares them with the clean frames.
    """

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        pred = model(batch["rainy"], pad=False)
        target = centre_frames(batch["clean"], pred.shape[1])
        loss = charbonnier(pred, target)
        return loss, {"restore": loss.item()}

    def predict(self, model: nn.Module, rainy: torch.Tensor) -> torch.Tensor:
        return model(rainy, pad=True)


def centre_frames(clip: torch.Tensor, count: int) -> torch.Tensor:
    """The middle ``count`` frames of ``(N, T, ...)``."""
    start = (clip.shape[1] - count) // 2
    return clip[:, start : start + count]
