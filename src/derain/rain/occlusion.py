"""Occlusion alpha, rain reliance A, and the veil (accumulated rain haze).

alpha = 1 where the near, heavy layer's intensity (after its blur) exceeds a threshold: big drops close
to the lens hide the background completely. A is what such a drop looks like: the scene's light seen
through a water lens, i.e. a brightened, strongly blurred copy of the frame (low texture, tinted by the
local light). The veil lightens the frame towards a light grey tinted by the scene, with a smooth
density that drifts with the wind; it is part of the streak layer S so that B stays the clean truth.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from derain.rain.params import REFERENCE_HEIGHT, ClipParams, OcclusionParams, VeilParams


def scene_light(clean: np.ndarray, factor: float) -> np.ndarray:
    """Low-pass scene light ``(T, H, W, 3)`` float32: area-downsample by ``factor`` then bilinear up."""
    t_n, h, w, _ = clean.shape
    x = torch.from_numpy(clean).permute(0, 3, 1, 2)
    small = F.adaptive_avg_pool2d(x, (max(1, round(h / factor)), max(1, round(w / factor))))
    up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return np.ascontiguousarray(up.permute(0, 2, 3, 1).numpy())


def occlusion(near: np.ndarray, clean: np.ndarray, occ: OcclusionParams) -> tuple[np.ndarray, np.ndarray]:
    """Binary ``alpha (T, H, W, 1)`` (exactly 0.0 / 1.0) and reliance ``A (T, H, W, 3)`` in [0, 1].

    ``near`` is the occluding layers' intensity ``(T, H, W)``; ``clean`` the background B.
    """
    t_n, h, w, _ = clean.shape
    light = scene_light(clean, occ.blur)
    # The drop's own brightness profile over the blurred light: smooth, and close to the soft streak
    # around it at the occlusion boundary (near == threshold gives L + brighten * (1 - L)).
    glow = np.minimum(near * np.float32(occ.brighten / max(occ.threshold, 1e-6)), 1.0)
    reliance = light + times_rgb(glow, np.ones(3, np.float32)) * (1 - light)
    reliance = np.clip(reliance, 0, 1, out=reliance).astype(np.float32, copy=False)
    if occ.enabled:
        alpha = (near > occ.threshold)[..., None].astype(np.float32)
    else:
        alpha = np.zeros((t_n, h, w, 1), np.float32)
    return alpha, reliance


def times_rgb(x: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``x[..., None] * rgb`` for ``x (T, H, W)`` and ``rgb (3,)`` float32, channel by channel (faster)."""
    out = np.empty(x.shape + (3,), np.float32)
    for c in range(3):
        np.multiply(x, rgb[c], out=out[..., c])
    return out


def veil_density(veil: VeilParams, params: ClipParams, rng: np.random.Generator) -> np.ndarray:
    """Smooth veil opacity ``(T, H, W)`` float32 in [0, strength], drifting with the wind."""
    t_n, h, w = params.frames, params.height, params.width
    f = 8
    hs, ws = max(2, math.ceil(h / f) + 1), max(2, math.ceil(w / f) + 1)
    ys = (np.arange(hs) * f)[:, None].astype(np.float64)
    xs = (np.arange(ws) * f)[None, :].astype(np.float64)
    k = 4
    wavelength = rng.uniform(120, 400, size=k) * params.scale
    theta = rng.uniform(0, 2 * np.pi, size=k)
    phase = rng.uniform(0, 2 * np.pi, size=k)
    amp = rng.uniform(0.5, 1.0, size=k)
    wind = np.deg2rad(params.wind_angle)
    drift = veil.drift * np.array([math.sin(wind), math.cos(wind)])
    ts = np.arange(t_n, dtype=np.float64)[:, None, None]
    field = np.zeros((t_n, hs, ws))
    for j in range(k):
        kx, ky = np.cos(theta[j]) / wavelength[j], np.sin(theta[j]) / wavelength[j]
        arg = kx * xs + ky * ys - (kx * drift[0] + ky * drift[1]) * ts
        field += amp[j] * np.cos(2 * np.pi * arg + phase[j])
    field = 0.5 + 0.5 * field / amp.sum()  # in [0, 1]
    # Denser towards the top (farther away), over a full frame's height at this scale (so a patch
    # shows the same gentle gradient as a crop of a full frame).
    grad = 1 + veil.gradient * (1 - np.clip(ys / (REFERENCE_HEIGHT * params.scale), 0, 1))
    dens = veil.strength * (veil.base + (1 - veil.base) * field) * grad / (1 + veil.gradient)
    x = torch.from_numpy(dens.astype(np.float32))[:, None]
    up = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=True)[:, 0, :h, :w]
    return np.ascontiguousarray(up.numpy())


def apply_veil(clean: np.ndarray, density: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Lighten ``clean (T, H, W, 3)`` towards ``colour (3,)`` by ``density (T, H, W)``; never darkens."""
    lift = np.maximum(colour.astype(np.float32) - clean, 0)
    lift *= times_rgb(density, np.ones(3, np.float32))
    return clean + lift


def scene_haze(clip: np.ndarray, params: ClipParams, rng: np.random.Generator) -> np.ndarray:
    """Haze that belongs to the *scene* (fog, smoke, a bright overcast distance), for the clean clip.

    Unlike the rain veil (part of S, removed by a deraining model), this haze is applied to B itself
    with the atmospheric model ``B' = B (1 - d) + d A``: a model trained with it learns that a hazy,
    bright, low-contrast scene is not a veiled one and keeps it, as a user expects of light rain.
    ``clip (T, H, W, 3)`` float32 in [0, 1] is returned hazed (new array); ``d`` is a smooth, still
    density (up to 0.15..0.6, denser towards the top) and ``A`` a light grey, slightly tinted.
    """
    veil = VeilParams(
        strength=float(rng.uniform(0.15, 0.6)),
        base=float(rng.uniform(0.4, 0.9)),
        gradient=float(rng.uniform(0.0, 1.5)),
        drift=0.0,
    )
    airlight = rng.uniform(0.7, 1.0) * (1 + rng.uniform(-0.06, 0.06, size=3))
    dens = veil_density(veil, params, rng)[..., None]
    hazed = clip * (1 - dens) + dens * np.clip(airlight, 0, 1).astype(np.float32)
    return np.clip(hazed, 0, 1, out=hazed).astype(np.float32, copy=False)
