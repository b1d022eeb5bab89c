"""PSNR, SSIM and flicker with the conventions of the deraining literature (BasicSR style).

Conventions (state them whenever you report numbers made here):

- Inputs are 8-bit RGB frames: ``uint8``, or float already on the **0..255 scale** (never 0..1).
  Everything is computed in **float64**; a float input is *not* rounded to integers first.
- ``channel="y"``: the luma of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` / BasicSR's ``to_y_channel``::

      Y = 16 + 65.481 R + 128.553 G + 24.966 B      (R, G, B in [0, 1]; Y on the 0..255 scale)

  not rounded (BasicSR keeps the float; older MATLAB scripts that round Y to uint8 differ by
  ~0.01 dB). ``channel="rgb"``: the three channels as they are.
- ``crop_border=k`` drops ``k`` pixels on every side before anything else (BasicSR's crop).
- **PSNR** ``= 10 log10(255^2 / MSE)`` with the MSE over all pixels (and channels, for RGB);
  identical images give ``+inf``.
- **SSIM** as MATLAB's ``ssim_index`` / BasicSR's ``_ssim``: 11x11 Gaussian window with sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, population (not sample) covariances, and **'valid'** filtering
  (the SSIM map is ``H-10 x W-10``, no padding), averaged over the map. For RGB, the mean of the
  three per-channel SSIMs. Equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255)``, which crops 5 pixels off its map.
- **Flicker** ``= mean |(y_t - y_{t-1}) - (g_t - g_{t-1})|`` over every pixel (and channel) of
  every pair of consecutive frames, on the same channel and 0..255 scale as above: how much the
  prediction's frame-to-frame change differs from the ground truth's. No optical flow; 0 is best.
- Video scores average over the frames of a clip, then over the clips of a data set (in
  :mod:`derain.evaluate`).

Everything is batched in torch: ``(H, W, 3)`` gives a 0-d tensor, ``(N, H, W, 3)`` a ``(N,)`` one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from derain.errors import DerainError

__all__ = ["CHANNELS", "rgb_to_y", "psnr", "ssim", "flicker", "ClipScorer", "describe_conventions"]

CHANNELS = ("y", "rgb")
# BT.601 luma weights of MATLAB's rgb2ycbcr for R, G, B in [0, 1] (Y in 16..235).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_WIN, _SIGMA, _K1, _K2, _L = 11, 1.5, 0.01, 0.03, 255.0
_C1, _C2 = (_K1 * _L) ** 2, (_K2 * _L) ** 2
_CHUNK_PIXELS = 1 << 22  # image-channels per SSIM pass: ~4 Mpx, i.e. ~200 MB of float64 moments

ArrayLike = np.ndarray | torch.Tensor


def describe_conventions(*, crop_border: int = 0) -> str:
    """One line naming the conventions, for report headers."""
    return (
        "PSNR/SSIM in float64 on 8-bit frames: Y = BT.601 luma (MATLAB rgb2ycbcr, 0..255, unrounded) "
        "and RGB; SSIM 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, L 255, valid filtering "
        f"(BasicSR/MATLAB), RGB SSIM = mean over channels; crop_border {crop_border}; "
        "flicker = mean |(p_t - p_t-1) - (g_t - g_t-1)| on the same channel (0..255); "
        "mean over frames, then over clips"
    )


def _check_channel(channel: str) -> str:
    ch = str(channel).lower()
    if ch not in CHANNELS:
        raise DerainError(f"unknown channel {channel!r}: use 'y' or 'rgb'")
    return ch


def _to_float64(img: ArrayLike, what: str = "image") -> torch.Tensor:
    """Any supported input as a float64 tensor ``(N, H, W, 3)`` on the CPU it came from."""
    # numpy -> float64 in numpy: the copy is needed anyway and is writable (decoded frames may
    # be read-only, which torch.from_numpy warns about).
    t = img.detach() if isinstance(img, torch.Tensor) else torch.from_numpy(np.asarray(img, dtype=np.float64))
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[-1] != 3:
        raise DerainError(f"{what} must have shape (H, W, 3) or (N, H, W, 3), got {tuple(t.shape)}")
    return t.to(torch.float64)


def rgb_to_y(img: ArrayLike) -> torch.Tensor:
    """BT.601 luma, MATLAB ``rgb2ycbcr`` convention, unrounded.

    Shape:
        - img: ``(..., H, W, 3)`` RGB, uint8 or float on the 0..255 scale.
        - output: ``(..., H, W)`` float64 in [16, 235].
    """
    t = img.detach() if isinstance(img, torch.Tensor) else torch.from_numpy(np.asarray(img, dtype=np.float64))
    if t.ndim < 3 or t.shape[-1] != 3:
        raise DerainError(f"expected an RGB image (..., H, W, 3), got {tuple(t.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=torch.float64, device=t.device)
    return (t.to(torch.float64) / 255.0) @ w + 16.0


def _prepare(x: torch.Tensor, channel: str, crop_border: int) -> torch.Tensor:
    """``(N, H, W, 3)`` float64 -> cropped ``(N, C, H', W')`` on the requested channel(s)."""
    if crop_border < 0:
        raise DerainError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        h, w = x.shape[1:3]
        if 2 * crop_border >= min(h, w):
            raise DerainError(f"crop_border {crop_border} leaves nothing of a {w}x{h} frame")
        x = x[:, crop_border:-crop_border, crop_border:-crop_border, :]
    if channel == "y":
        return rgb_to_y(x).unsqueeze(1)
    return x.permute(0, 3, 1, 2).contiguous()  # planar: the filters run ~5x faster


def _pair(pred: ArrayLike, gt: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
    p, g = _to_float64(pred, "prediction"), _to_float64(gt, "ground truth")
    if p.shape != g.shape:
        raise DerainError(
            f"prediction and ground truth differ in shape: {tuple(np.shape(pred))} vs {tuple(np.shape(gt))}"
        )
    return p, g.to(p.device), np.ndim(pred) == 3


def _psnr_prepared(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` float64 -> ``(N,)``; MSE 0 gives +inf (255^2 / 0)."""
    mse = (p - g).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10((_L * _L) / mse)


def _gaussian_1d(device: torch.device) -> torch.Tensor:
    # cv2.getGaussianKernel(11, 1.5) in float64; its outer product is MATLAB's fspecial window.
    x = torch.arange(_WIN, dtype=torch.float64, device=device) - (_WIN - 1) / 2
    k = torch.exp(-(x * x) / (2 * _SIGMA * _SIGMA))
    return k / k.sum()


def _filter_valid(x: torch.Tensor) -> torch.Tensor:
    """Separable 11x11 Gaussian, 'valid': ``(..., H, W)`` -> ``(..., H-10, W-10)``.

    Eleven shifted in-place multiply-adds per axis: ~10x faster on CPU than float64 conv2d,
    which has no optimised kernel; equal to it within 1e-13.
    """
    k = _gaussian_1d(x.device).tolist()
    h, w = x.shape[-2:]
    rows = x[..., 0 : h - _WIN + 1, :] * k[0]
    for i in range(1, _WIN):
        rows.add_(x[..., i : i + h - _WIN + 1, :], alpha=k[i])
    out = rows[..., 0 : w - _WIN + 1] * k[0]
    for i in range(1, _WIN):
        out.add_(rows[..., i : i + w - _WIN + 1], alpha=k[i])
    return out


def _ssim_prepared(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` float64 -> ``(N,)``: mean of the per-channel MATLAB SSIM."""
    n, c, h, w = p.shape
    if h < _WIN or w < _WIN:
        raise DerainError(f"SSIM needs frames of at least {_WIN}x{_WIN} pixels after cropping, got {w}x{h}")
    p, g = p.reshape(n * c, h, w), g.reshape(n * c, h, w)
    # Bound memory: the five float64 moment maps of a 4K frame would take ~1.3 GB at once.
    step = max(1, _CHUNK_PIXELS // (h * w))
    means = []
    for i in range(0, n * c, step):
        pi, gi = p[i : i + step], g[i : i + step]
        # The five moments filtered in one separable 'valid' pass (no padding: the map shrinks
        # by 10 pixels, exactly BasicSR's filter2D(...)[5:-5, 5:-5]).
        mu1, mu2, e11, e22, e12 = _filter_valid(torch.stack((pi, gi, pi * pi, gi * gi, pi * gi), 1)).unbind(1)
        mu11, mu22, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
        s11, s22, s12 = e11 - mu11, e22 - mu22, e12 - mu12
        ssim_map = ((2 * mu12 + _C1) * (2 * s12 + _C2)) / ((mu11 + mu22 + _C1) * (s11 + s22 + _C2))
        means.append(ssim_map.mean(dim=(1, 2)))
    return torch.cat(means).view(n, c).mean(dim=1)


def psnr(pred: ArrayLike, gt: ArrayLike, *, crop_border: int = 0, channel: str = "y") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 255), see the module conventions.

    Shape:
        - pred, gt: ``(H, W, 3)`` or ``(N, H, W, 3)``, uint8 or float on the 0..255 scale.
        - output: float64, 0-d for one image, ``(N,)`` for a batch; ``inf`` where identical.
    """
    ch = _check_channel(channel)
    p, g, single = _pair(pred, gt)
    out = _psnr_prepared(_prepare(p, ch, crop_border), _prepare(g, ch, crop_border))
    return out[0] if single else out


def ssim(pred: ArrayLike, gt: ArrayLike, *, crop_border: int = 0, channel: str = "y") -> torch.Tensor:
    """Structural similarity (MATLAB/BasicSR), see the module conventions.

    Shape:
        - pred, gt: ``(H, W, 3)`` or ``(N, H, W, 3)``, uint8 or float on the 0..255 scale;
          at least 11x11 after ``crop_border``.
        - output: float64 in (-1, 1], 0-d for one image, ``(N,)`` for a batch.
    """
    ch = _check_channel(channel)
    p, g, single = _pair(pred, gt)
    out = _ssim_prepared(_prepare(p, ch, crop_border), _prepare(g, ch, crop_border))
    return out[0] if single else out


def flicker(pred_clip: ArrayLike, gt_clip: ArrayLike, *, crop_border: int = 0, channel: str = "y") -> float:
    """Mean ``|(p_t - p_{t-1}) - (g_t - g_{t-1})|`` over a clip (0..255 scale; 0 is best).

    Shape:
        - pred_clip, gt_clip: ``(T, H, W, 3)``, uint8 or float on the 0..255 scale.
        - output: a float; ``nan`` for fewer than two frames.
    """
    ch = _check_channel(channel)
    p, g, single = _pair(pred_clip, gt_clip)
    if single or p.shape[0] < 2:
        return math.nan
    p, g = _prepare(p, ch, crop_border), _prepare(g, ch, crop_border)
    return float(((p[1:] - p[:-1]) - (g[1:] - g[:-1])).abs().mean())


def _mean(values: Sequence[float]) -> float:
    # inf stays inf (a perfect frame makes a perfect clip PSNR, as in BasicSR); no frames -> nan.
    return float(np.mean(values)) if len(values) else math.nan


class ClipScorer:
    """Streaming per-clip scores: feed frame pairs one by one, read per-frame rows and a summary.

    Keeps only the previous (cropped) frame pair, for flicker. Several channels share one
    conversion to float64 and one crop, so ``channels=("y", "rgb")`` costs little more than one.
    ``drop_ends=n`` ignores the first and last ``n`` frames of the clip (the last ones are dropped
    when reading the results, so the clip length need not be known in advance); flicker then only
    uses pairs of kept frames.

    Keys of rows and summary: ``psnr_<ch>``, ``ssim_<ch>``, ``flicker_<ch>`` for each channel, plus
    ``frame`` (index in the clip) per row and ``frames`` (frames kept) in the summary. A row's
    flicker compares it with the previous kept frame (``nan`` for the first).

    Shape:
        - pred, gt given to :meth:`add`: ``(H, W, 3)`` uint8 or float on the 0..255 scale.
    """

    def __init__(
        self,
        *,
        crop_border: int = 0,
        channel: str = "y",
        channels: Sequence[str] | None = None,
        drop_ends: int = 0,
    ) -> None:
        chans = (channel,) if channels is None else tuple(channels)
        if not chans:
            raise DerainError("ClipScorer needs at least one channel")
        self.channels: tuple[str, ...] = tuple(dict.fromkeys(_check_channel(c) for c in chans))
        if crop_border < 0 or drop_ends < 0:
            raise DerainError("crop_border and drop_ends must be >= 0")
        self.crop_border = crop_border
        self.drop_ends = drop_ends
        self.seen = 0  # frames given to add(), dropped ones included
        self._rows: list[dict[str, float]] = []
        self._prev: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None
        self._shape: tuple[int, ...] | None = None

    def add(self, pred: ArrayLike, gt: ArrayLike) -> None:
        """Score one frame pair (the next frame of the clip)."""
        index = self.seen
        self.seen += 1
        if self._shape is None:
            self._shape = tuple(np.shape(gt))
        elif tuple(np.shape(gt)) != self._shape:
            raise DerainError(
                f"frame {index} has shape {tuple(np.shape(gt))}, the clip started with {self._shape}"
            )
        p, g, _ = _pair(pred, gt)
        if index < self.drop_ends:
            return
        row: dict[str, float] = {"frame": index}
        prev: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for ch in self.channels:
            pc, gc = _prepare(p, ch, self.crop_border), _prepare(g, ch, self.crop_border)
            row[f"psnr_{ch}"] = float(_psnr_prepared(pc, gc)[0])
            row[f"ssim_{ch}"] = float(_ssim_prepared(pc, gc)[0])
            if self._prev is None:
                row[f"flicker_{ch}"] = math.nan
            else:
                pp, gp = self._prev[ch]
                row[f"flicker_{ch}"] = float(((pc - pp) - (gc - gp)).abs().mean())
            prev[ch] = (pc, gc)
        self._prev = prev
        self._rows.append(row)

    @property
    def frames(self) -> int:
        """Frames kept so far (after ``drop_ends`` at both ends)."""
        return len(self.rows())

    def rows(self) -> list[dict[str, float]]:
        """Per-frame scores of the kept frames, oldest first."""
        return self._rows[: max(0, len(self._rows) - self.drop_ends)]

    def per_frame(self, key: str) -> list[float]:
        """One per-frame list, e.g. ``per_frame("psnr_y")``."""
        return [r[key] for r in self.rows()]

    def summary(self) -> dict[str, float]:
        """Means over the kept frames (flicker over their consecutive pairs); ``nan`` if none."""
        rows = self.rows()
        out: dict[str, float] = {"frames": len(rows)}
        for ch in self.channels:
            out[f"psnr_{ch}"] = _mean([r[f"psnr_{ch}"] for r in rows])
            out[f"ssim_{ch}"] = _mean([r[f"ssim_{ch}"] for r in rows])
            out[f"flicker_{ch}"] = _mean([r[f"flicker_{ch}"] for r in rows[1:]])
        return out
