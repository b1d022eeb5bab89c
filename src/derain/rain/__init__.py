"""Hybrid rain synthesis (J4R-Net's model): ``O = (1 - alpha) (B + S) + alpha A`` with all layers.

Parameters are sampled per clip from a preset with an explicit generator
(:func:`sample_clip_params`), then rendered deterministically (:func:`render_clip`).
"""

from derain.rain.compose import RainLayers, render_clip, synthesize
from derain.rain.params import ClipParams, sample_clip_params
from derain.rain.presets import PRESETS, RainPreset, get_preset

__all__ = [
    "PRESETS",
    "ClipParams",
    "RainLayers",
    "RainPreset",
    "get_preset",
    "render_clip",
    "sample_clip_params",
    "synthesize",
]
