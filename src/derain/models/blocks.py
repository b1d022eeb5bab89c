"""Layers shared by the models.

Everything here is plain 3x3/1x1 convolutions, ReLU-family activations and pixel (un)shuffles:
the ops that oneDNN runs fastest in ``channels_last`` + bf16 on x86 CPUs and cuDNN runs well on
GPUs. No custom kernels, no deformable convs, no attention, so every model exports and runs anywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_ch: int, out_ch: int, *, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """A 3x3 convolution with 'same' padding (halves the size when ``stride=2``)."""
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_ch: int, out_ch: int, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, bias=bias)


class ResBlock(nn.Module):
    """Two 3x3 convs with a ReLU between them and an identity skip (EDSR style: no norm layers).

    Normalisation layers are left out on purpose: restoration nets need the absolute intensity
    scale, and batch statistics of 32x32 training patches do not match whole video frames.

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int, *, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x), inplace=True))
        return x + (y if self.res_scale == 1.0 else self.res_scale * y)  # no multiply by 1


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Replicate-pad the last two dims up to a multiple of ``multiple``.

    Returns the padded tensor and the original ``(H, W)``, for :func:`crop_to`.
    Replicate (not zero) padding keeps the border statistics natural, so the model does not see
    a black frame edge it never saw in training.
    """
    h, w = x.shape[-2:]
    ph = (-h) % multiple
    pw = (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:])
    flat = F.pad(flat, (0, pw, 0, ph), mode="replicate")
    return flat.reshape(*lead, *flat.shape[-3:]), (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`."""
    h, w = size
    return x[..., :h, :w]
