"""The hybrid rain model of J4R-Net: ``O = (1 - alpha) (B + S) + alpha A``, with every layer returned.

S is the *effective* streak layer: the rain streaks (screen-blended, so they saturate gracefully on
bright backgrounds), the sparkles and the veil, expressed as what they add to B. It is clipped to
``[0, 1 - B]`` so that O stays in [0, 1] while the formula holds bit for bit on the returned float32
arrays (O is computed from them, never clipped afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derain.errors import DerainError
from derain.rain import motion
from derain.rain.occlusion import apply_veil, occlusion, times_rgb, veil_density
from derain.rain.params import ClipParams, sample_clip_params
from derain.rain.streaks import render_layer, render_sparkles

_SPARKLE_STREAM = 1000
_VEIL_STREAM = 1001
_CHUNK_PIXELS = 1 << 18


@dataclass
class RainLayers:
    """All layers of a rendered clip, float32: ``(T, H, W, 3)`` except ``alpha (T, H, W, 1)``.

    ``rainy == (1 - alpha) * (clean + streak) + alpha * reliance`` exactly; alpha is 0.0 or 1.0.
    """

    rainy: np.ndarray
    clean: np.ndarray
    streak: np.ndarray
    alpha: np.ndarray
    reliance: np.ndarray
    params: ClipParams


def rain_colour(clean: np.ndarray, tint: float) -> np.ndarray:
    """Streak colour ``(3,)``: white mixed with the scene's mean light (normalised to a peak of 1)."""
    light = clean[:, ::4, ::4].reshape(-1, 3).mean(axis=0, dtype=np.float64)  # a sparse grid is enough
    light = light / max(float(light.max()), 1e-3)
    return ((1 - tint) + tint * light).astype(np.float32)


def camera_for_rain(params: ClipParams):
    """``(zoom, rotation, shift, shift velocity)`` per frame, as :func:`render_layer` expects."""
    zoom, rot, shift = motion.trajectory(params.camera, params.frames)
    vel = np.gradient(shift, axis=0) if params.frames > 1 else np.zeros_like(shift)
    return zoom, rot, shift, vel


def render_clip(clean: np.ndarray, params: ClipParams) -> RainLayers:
    """Render rain on ``clean (T, H, W, 3)`` (uint8, or float in [0, 1]); deterministic given params."""
    clean = _as_clip(clean)
    t_n, h, w, _ = clean.shape
    if (t_n, h, w) != (params.frames, params.height, params.width):
        raise DerainError(
            f"clean clip is {t_n}x{h}x{w} but the parameters are for "
            f"{params.frames}x{params.height}x{params.width}"
        )
    params.validate()
    cam = camera_for_rain(params)
    screen = np.ones((t_n, h, w), np.float32)  # product of (1 - I) over layers
    near = np.zeros((t_n, h, w), np.float32)
    for i, layer in enumerate(params.layers):
        inten = render_layer(layer, params, cam, np.random.default_rng([params.seed, i]))
        screen *= 1 - inten
        if layer.occluding:
            np.maximum(near, inten, out=near)
    if params.sparkle.density > 0:
        rng = np.random.default_rng([params.seed, _SPARKLE_STREAM])
        screen *= 1 - render_sparkles(params.sparkle, params, rng)
    colour = rain_colour(clean, params.tint)
    dens = None
    if params.veil.strength > 0:
        dens = veil_density(params.veil, params, np.random.default_rng([params.seed, _VEIL_STREAM]))
    veil_colour = colour * np.float32(params.veil.brightness)

    rainy = np.empty_like(clean)
    streak = np.empty_like(clean)
    reliance = np.empty_like(clean)
    alpha = np.empty((t_n, h, w, 1), np.float32)
    step = max(1, _CHUNK_PIXELS // (h * w))  # a few frames at a time keeps temporaries in cache
    for t0 in range(0, t_n, step):
        ts = slice(t0, min(t_n, t0 + step))
        cl = clean[ts]
        base = cl if dens is None else apply_veil(cl, dens[ts], veil_colour)
        lit = times_rgb(1 - screen[ts], colour)  # rain intensity times colour, in [0, 1]
        lit *= 1 - base
        lit += base  # screen blend: rain brightens, never beyond 1
        st = streak[ts]
        np.subtract(lit, cl, out=st)
        np.minimum(st, 1 - cl, out=st)
        np.maximum(st, 0, out=st)  # (lit >= clean already; this guards float rounding)
        _fit_in_range(cl, st)
        alpha[ts], reliance[ts] = occlusion(near[ts], cl, params.occlusion)
        # (1 - alpha) * (clean + streak) + alpha * reliance, computed exactly without temporaries:
        # alpha is 0 or 1, and x * 1 + 0 * y == x bit for bit for finite non-negative x, y.
        np.add(cl, st, out=rainy[ts])
        occluded = alpha[ts][..., 0] > 0
        rainy[ts][occluded] = reliance[ts][occluded]
    return RainLayers(rainy=rainy, clean=clean, streak=streak, alpha=alpha, reliance=reliance, params=params)


def synthesize(
    clean: np.ndarray,
    preset="light",
    *,
    seed: int = 0,
    frames: int = 9,
    scale: float | None = None,
) -> RainLayers:
    """Add rain of type ``preset`` to a clip ``(T, H, W, 3)`` or a still ``(H, W, 3)``.

    A still becomes a ``frames``-frame clip of the same size by a random camera motion (with a slight
    zoom-in so no border shows); a clip keeps its frames and the rain follows its estimated pan.
    Values: uint8, or float in [0, 1]. Same seed, same bytes.
    """
    arr = np.asarray(clean)
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise DerainError(f"expected an RGB image (H, W, 3) or clip (T, H, W, 3), got shape {arr.shape}")
    h, w = arr.shape[-3:-1]
    t_n = frames if arr.ndim == 3 else arr.shape[0]
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DerainError(f"the seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    params = sample_clip_params(preset, rng, frames=t_n, height=h, width=w, scale=scale)
    if arr.ndim == 3:
        clip = motion.animate_still(arr, params.camera, frames=t_n, height=h, width=w)
    else:
        clip = _as_clip(arr)
        params.camera.track = motion.estimate_track(clip) if t_n > 1 else [[0.0, 0.0]]
    return render_clip(clip, params)


def _fit_in_range(clean: np.ndarray, streak: np.ndarray) -> None:
    """Lower S by an ulp where float32 rounding would make ``B + S`` exceed 1 (in place)."""
    for _ in range(4):
        over = (clean + streak) > 1
        if not over.any():
            return
        streak[over] = np.nextafter(streak[over], np.float32(0))


def _as_clip(clean: np.ndarray) -> np.ndarray:
    a = np.asarray(clean)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise DerainError(f"expected a clip of shape (T, H, W, 3), got {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise DerainError("clean frames given as floats must lie in [0, 1]")
    return a
