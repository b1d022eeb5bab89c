"""Measure a preset's rainy-input PSNR-Y against the clean clip (how presets are calibrated).

The fixed sample of the tests and of docs/rain.md: stills resized to 360 lines (the presets' reference
scale), animated by each clip's own camera motion and cropped to ``width x height``; PSNR-Y per frame
on 8-bit frames (``derain.metrics`` conventions), averaged over the frames of a clip.
"""

from __future__ import annotations

import numpy as np

from derain.rain import motion
from derain.rain.compose import render_clip
from derain.rain.params import REFERENCE_HEIGHT, sample_clip_params


def to_reference_scale(image: np.ndarray) -> np.ndarray:
    """Resize a still ``(H, W, 3)`` uint8 to 360 lines (Lanczos), the scale presets are defined for."""
    from PIL import Image

    h, w = image.shape[:2]
    size = (round(w * REFERENCE_HEIGHT / h), REFERENCE_HEIGHT)
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def clip_psnr(rainy: np.ndarray, clean: np.ndarray) -> float:
    """Mean over frames of PSNR-Y (dB) between two float clips in [0, 1], after 8-bit rounding."""
    from derain.metrics import psnr

    def u8(x):
        return (x * np.float32(255) + np.float32(0.5)).astype(np.uint8)

    return float(psnr(u8(rainy), u8(clean)).mean())


def measure_psnr(
    preset, images: list[np.ndarray], *, frames: int = 5, width: int = 160, height: int = 120, seed: int = 0
) -> list[float]:
    """Rainy-input PSNR-Y of one clip per image (each at reference scale), seeds ``[seed, k]``."""
    out = []
    for k, img in enumerate(images):
        src = to_reference_scale(img)
        params = sample_clip_params(
            preset, np.random.default_rng([seed, k]), frames=frames, height=height, width=width, scale=1.0
        )
        clip = motion.animate_still(src, params.camera, frames=frames, height=height, width=width)
        layers = render_clip(clip, params)
        out.append(clip_psnr(layers.rainy, layers.clean))
    return out
