"""The streak layer: a world of falling drops per depth layer, rendered as motion-blurred segments.

Each drop has a position and a velocity (wind angle + per-drop jitter, speed ~ closeness). Per frame its
world position advances by the velocity, is mapped through the camera (with the layer's parallax) and
wrapped in a domain slightly larger than the frame, so drops leave on one side and come back on the
other. A drop is drawn as the segment it sweeps during the exposure (its apparent velocity, camera
motion included, times the exposure): points every half pixel along the segment are splatted
bilinearly (anti-aliased) into a canvas, and a Gaussian blur gives the cross-section width (depth of
field). All frames and drops are handled in a few vectorized numpy calls, never a loop over drops.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter1d

from derain.rain.params import ClipParams, SparkleParams, StreakLayerParams

_MAX_POINTS = 3_000_000  # points splatted per chunk of frames (bounds memory on long clips)
_SPACING = 0.5  # px between the points that draw a sharp segment (wider ones: up to 1 px)
_COARSE_WIDTH = 2.0  # layers at least this blurred are drawn on a half-resolution canvas (4x cheaper)


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Blur the last two axes of ``x`` (..., H, W) with a Gaussian of ``sigma`` px (zero outside)."""
    if sigma < 0.2:
        return x
    x = gaussian_filter1d(x, sigma, axis=-1, mode="constant", truncate=3.0)
    return gaussian_filter1d(x, sigma, axis=-2, mode="constant", truncate=3.0)


def splat(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, frame: torch.Tensor, shape) -> np.ndarray:
    """Bilinearly splat points at ``(x, y)`` (canvas px) with weights ``w`` into frames ``frame``.

    ``x, y, w`` are float32 tensors of one shape, ``frame`` an int64 tensor broadcastable to it.
    Returns a float32 array ``shape = (T, Hc, Wc)``; points outside the canvas are dropped. (torch's
    index_add_ is several times faster than numpy's bincount; single-threaded on CPU, so the summation
    order, and the result, are deterministic.)
    """
    t_n, hc, wc = shape
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    inside = (x0 >= 0) & (x0 < wc - 1) & (y0 >= 0) & (y0 < hc - 1)
    wt = w * inside
    base = ((frame * hc + y0.clamp(0, hc - 2).long()) * wc + x0.clamp(0, wc - 2).long()).reshape(-1)
    wx1 = wt * fx
    wx0 = wt - wx1
    out = torch.zeros(t_n * hc * wc)
    out.index_add_(0, base, (wx0 * (1 - fy)).reshape(-1))
    out.index_add_(0, base + 1, (wx1 * (1 - fy)).reshape(-1))
    out.index_add_(0, base + wc, (wx0 * fy).reshape(-1))
    out.index_add_(0, base + (wc + 1), (wx1 * fy).reshape(-1))
    return out.numpy().reshape(shape)


def _t32(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def render_layer(
    layer: StreakLayerParams,
    params: ClipParams,
    camera: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Intensity ``(T, H, W)`` float32 in [0, 1] of one depth layer.

    ``camera`` is ``(zoom (T,), rotation (T,) rad, shift (T, 2) px, shift velocity (T, 2) px/frame)``.
    """
    t_n, h, w = params.frames, params.height, params.width
    out = np.zeros((t_n, h, w), np.float32)
    zoom, rot, shift, shift_vel = camera
    cam_speed = float(np.abs(shift_vel).max()) * layer.parallax if t_n else 0.0
    max_len = (layer.speed * (1 + 3 * layer.speed_jitter) + cam_speed) * params.exposure * zoom.max()
    # Wide (near, defocused) layers: splat and blur at half resolution, then upsample bilinearly. The
    # half-res splat and the upsampling add about 1.17 px^2 of variance, taken off the blur.
    f = 2 if layer.width >= _COARSE_WIDTH else 1
    sigma = math.sqrt(max(layer.width**2 - 1.17, 0.04)) / 2 if f == 2 else layer.width
    pad = int(math.ceil(3 * sigma)) + 2  # canvas px
    margin = 0.5 * max_len + math.ceil(3 * layer.width) + 6  # >= the canvas pad for either f
    dom = np.array([w + 2 * margin, h + 2 * margin])
    n = int(rng.poisson(layer.density * dom[0] * dom[1]))
    if n == 0 or layer.brightness <= 0:
        return out
    pos0 = (rng.random((n, 2)) - 0.5) * dom
    speed = layer.speed * np.maximum(0.2, 1 + layer.speed_jitter * rng.standard_normal(n))
    ang = np.deg2rad(params.wind_angle + layer.angle_jitter * rng.standard_normal(n))
    vel = speed[:, None] * np.stack([np.sin(ang), np.cos(ang)], 1)
    bj = layer.brightness_jitter  # log-normal spread: many faint drops, a few bright ones
    bright = np.minimum(layer.brightness * np.exp(bj * rng.standard_normal(n) - 0.5 * bj * bj), 1.0)

    spacing = min(1.0, _SPACING + 0.5 * layer.width)  # the blur hides a coarser sampling
    n_seg = max(2, int(math.ceil(max_len / spacing)) + 1)
    s = np.linspace(-0.5, 0.5, n_seg)
    taper = np.minimum(1.0, 0.35 + (0.5 - np.abs(s)) / 0.12)  # soft, rounded ends
    # Bilinear splatting adds variance 1/6 px^2; the gain makes a long streak's peak = its brightness
    # at scale >= 1, and keeps its ink (integral across) when a small scale makes it sub-pixel thin.
    gain = math.sqrt(2 * math.pi * (layer.width**2 + min(1.0, params.scale) ** 2 / 6))
    k = layer.parallax
    hc, wc = -(-h // f) + 2 * pad, -(-w // f) + 2 * pad
    reach = np.array([w / 2 + f * pad, h / 2 + f * pad])
    centre = np.array([w / (2 * f) - 0.5 + pad, h / (2 * f) - 0.5 + pad])  # canvas coords of p = 0
    s_t, taper_t = _t32(s), _t32(taper)
    chunk = max(1, _MAX_POINTS // (n * n_seg))
    for t0 in range(0, t_n, chunk):
        ts = np.arange(t0, min(t_n, t0 + chunk))
        c, sn, z = np.cos(rot[ts])[:, None], np.sin(rot[ts])[:, None], zoom[ts][:, None, None]
        d = pos0[None] + vel[None] * ts[:, None, None] - k * shift[ts][:, None, :]
        p = np.stack([c * d[..., 0] + sn * d[..., 1], c * d[..., 1] - sn * d[..., 0]], -1)
        p = np.mod(p * z + 0.5 * dom, dom) - 0.5 * dom  # wrap in the domain
        dv = vel[None] - k * shift_vel[ts][:, None, :]
        u = np.stack([c * dv[..., 0] + sn * dv[..., 1], c * dv[..., 1] - sn * dv[..., 0]], -1)
        u *= z * params.exposure  # the segment swept during the exposure
        # Keep only the streaks that reach the canvas, then draw them point by point.
        vis = (np.abs(p) <= reach + 0.5 * np.abs(u)).all(axis=-1)
        fr, idx = np.nonzero(vis)
        if len(fr) == 0:
            continue
        p, u = p[fr, idx], u[fr, idx]
        length = np.maximum(np.hypot(u[:, 0], u[:, 1]), 1.0)
        pt, ut = _t32(p / f + centre), _t32(u / f)
        xs = pt[:, :1] + ut[:, :1] * s_t  # (M, n_seg) points along each segment
        ys = pt[:, 1:] + ut[:, 1:] * s_t
        wts = _t32(bright[idx] * length * (gain / n_seg / (f * f)))[:, None] * taper_t
        canvas = splat(xs, ys, wts, torch.from_numpy(fr)[:, None], (len(ts), hc, wc))
        canvas = gaussian_blur(canvas, sigma)
        if f == 2:
            up = F.interpolate(
                torch.from_numpy(canvas)[:, None], scale_factor=2, mode="bilinear", align_corners=False
            )
            canvas, pad = up[:, 0].numpy(), 2 * pad
        out[ts] = np.minimum(canvas[:, pad : pad + h, pad : pad + w], 1.0)
        pad = pad // f
    return out


def render_sparkles(sp: SparkleParams, params: ClipParams, rng: np.random.Generator) -> np.ndarray:
    """Sparkle noise ``(T, H, W)`` float32 in [0, 1]: sparse bright speckles, new in every frame."""
    t_n, h, w = params.frames, params.height, params.width
    if sp.density <= 0 or sp.brightness <= 0:
        return np.zeros((t_n, h, w), np.float32)
    pad = int(math.ceil(3 * sp.size)) + 2
    counts = rng.poisson(sp.density * h * w, size=t_n)
    m = int(counts.sum())
    xy = _t32(rng.random((m, 2)) * np.array([w, h]) - 0.5 + pad)
    frame = torch.from_numpy(np.repeat(np.arange(t_n), counts))
    wts = _t32(sp.brightness * (0.5 + 0.5 * rng.random(m)) * (2 * math.pi * (sp.size**2 + 1 / 6)))
    canvas = splat(xy[:, 0], xy[:, 1], wts, frame, (t_n, h + 2 * pad, w + 2 * pad))
    canvas = gaussian_blur(canvas, sp.size)
    return np.minimum(canvas[:, pad : pad + h, pad : pad + w], 1.0)
