"""Rain types: ranges of the parameters that :func:`sample_clip_params` draws from.

Pixel quantities are for a frame of 360 lines (scaled per clip); densities are drops per 10^4 px^2;
speeds are px/frame (a streak's length is speed x exposure); widths are Gaussian sigmas in px. See
docs/rain.md for a contact sheet and the measured rainy-input PSNR-Y of every preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from derain.errors import DerainError

Range = tuple[float, float]


@dataclass(frozen=True)
class LayerRange:
    name: str
    density: Range  # log-uniform, drops per 10^4 px^2
    speed: Range  # px/frame
    width: Range  # sigma px
    brightness: Range
    parallax: float = 1.0
    speed_jitter: float = 0.12
    brightness_jitter: float = 0.35
    jitter_gain: float = 1.0  # multiplies the preset's angle jitter for this layer
    occluding: bool = False
    probability: float = 1.0  # chance that the layer is present in a clip


@dataclass(frozen=True)
class SparkleRange:
    density: Range  # log-uniform, speckles per 10^4 px^2 per frame
    brightness: Range
    size: Range


@dataclass(frozen=True)
class OcclusionRange:
    threshold: Range  # relative to the near layer's brightness
    brighten: Range


@dataclass(frozen=True)
class VeilRange:
    strength: Range
    base: Range = (0.4, 0.7)
    gradient: Range = (0.0, 0.5)
    brightness: Range = (0.75, 0.95)


@dataclass(frozen=True)
class CameraRange:
    pan: Range = (0.0, 1.5)  # px/frame
    accel: Range = (0.0, 0.04)  # px/frame^2
    zoom: Range = (0.0, 0.002)  # log-zoom per frame
    rotation: Range = (0.0, 0.05)  # degrees per frame
    shake: Range = (0.1, 0.8)  # px


@dataclass(frozen=True)
class RainPreset:
    """Ranges for one rain type. Sampled by :func:`derain.rain.sample_clip_params`."""

    name: str
    description: str
    layers: tuple[LayerRange, ...]
    wind_angle: Range  # degrees from vertical; the sign is drawn at random
    angle_jitter: Range  # degrees, per streak
    exposure: Range  # fraction of the frame interval
    psnr_range: Range = (0.0, 99.0)  # documented rainy-input PSNR-Y vs clean (dB), see calibrate.py
    tint: Range = (0.2, 0.5)
    sparkle: SparkleRange | None = None
    occlusion: OcclusionRange | None = None
    veil: VeilRange | None = None
    camera: CameraRange = CameraRange()


PRESETS: dict[str, RainPreset] = {
    "light": RainPreset(
        name="light",
        psnr_range=(22, 30),
        description="light rain like RainSynLight25: sparse thin semi-transparent streaks in two or three "
        "depth layers, no occlusion",
        layers=(
            LayerRange("far", (20, 50), (8, 16), (0.35, 0.5), (0.15, 0.3), parallax=1.0),
            LayerRange("mid", (8, 22), (22, 40), (0.55, 0.85), (0.38, 0.6), parallax=1.2),
            LayerRange("near", (0.3, 1.0), (40, 60), (1.2, 2.0), (0.15, 0.3), parallax=1.6, probability=0.6),
        ),
        wind_angle=(0, 15),
        angle_jitter=(1.5, 4),
        exposure=(0.45, 0.9),
    ),
    "complex": RainPreset(
        name="complex",
        psnr_range=(13, 19),
        description="heavy rain like RainSynComplex25: dense streaks at three depths, sharp line streaks, "
        "sparkle noise and occluding near drops",
        layers=(
            LayerRange("far", (50, 120), (10, 16), (0.4, 0.6), (0.3, 0.5), parallax=1.0),
            LayerRange("mid", (30, 60), (22, 36), (0.7, 1.0), (0.45, 0.7), parallax=1.2),
            LayerRange("near", (1.2, 3.0), (45, 70), (1.6, 2.6), (0.5, 0.75), parallax=1.6, occluding=True),
            LayerRange("sharp", (2, 5), (60, 100), (0.0, 0.0), (0.7, 1.0), parallax=1.3, jitter_gain=0.3),
        ),
        wind_angle=(0, 25),
        angle_jitter=(2, 6),
        exposure=(0.5, 0.9),
        sparkle=SparkleRange((20, 60), (0.5, 0.9), (0.4, 0.8)),
        occlusion=OcclusionRange((0.55, 0.75), (0.4, 0.7)),
        veil=VeilRange((0.08, 0.22)),
    ),
    "drizzle": RainPreset(
        name="drizzle",
        psnr_range=(24, 34),
        description="drizzle: a great many tiny, faint, short streaks close to vertical, with a thin mist",
        layers=(
            LayerRange("far", (150, 350), (3, 6), (0.35, 0.45), (0.1, 0.22), parallax=1.0),
            LayerRange("mid", (30, 80), (6, 10), (0.45, 0.65), (0.15, 0.3), parallax=1.2),
        ),
        wind_angle=(0, 10),
        angle_jitter=(3, 8),
        exposure=(0.3, 0.6),
        veil=VeilRange((0.05, 0.15)),
    ),
    "storm": RainPreset(
        name="storm",
        psnr_range=(18, 27),
        description="wind-driven storm: long fast streaks strongly slanted, widely varying directions, "
        "some occluding near drops, a shaking camera",
        layers=(
            LayerRange("far", (15, 40), (16, 26), (0.4, 0.6), (0.15, 0.3), parallax=1.0, jitter_gain=1.5),
            LayerRange("mid", (8, 20), (35, 55), (0.7, 1.0), (0.35, 0.55), parallax=1.2),
            LayerRange("near", (0.6, 1.5), (70, 110), (1.6, 2.6), (0.35, 0.6), parallax=1.6, occluding=True),
        ),
        wind_angle=(25, 50),
        angle_jitter=(4, 10),
        exposure=(0.5, 0.9),
        occlusion=OcclusionRange((0.6, 0.8), (0.35, 0.6)),
        veil=VeilRange((0.0, 0.1)),
        camera=CameraRange(pan=(0.0, 2.0), shake=(0.5, 2.0)),
    ),
    "downpour": RainPreset(
        name="downpour",
        psnr_range=(12, 20),
        description="veiling downpour: dense near-vertical rain, large blurred near drops that hide the "
        "background, and a haze of accumulated rain",
        layers=(
            LayerRange("far", (40, 100), (12, 18), (0.45, 0.65), (0.15, 0.3), parallax=1.0),
            LayerRange("mid", (15, 35), (25, 40), (0.8, 1.2), (0.25, 0.45), parallax=1.2),
            LayerRange("near", (1.0, 2.5), (50, 80), (2.2, 3.5), (0.35, 0.6), parallax=1.6, occluding=True),
        ),
        wind_angle=(0, 10),
        angle_jitter=(1.5, 4),
        exposure=(0.6, 1.0),
        occlusion=OcclusionRange((0.5, 0.7), (0.4, 0.7)),
        veil=VeilRange((0.25, 0.5)),
    ),
}


def get_preset(preset) -> RainPreset:
    """A :class:`RainPreset` by name (or the preset itself); unknown names raise DerainError."""
    if isinstance(preset, RainPreset):
        return preset
    try:
        return PRESETS[str(preset)]
    except KeyError:
        raise DerainError(f"unknown rain preset {preset!r}; choose from {', '.join(PRESETS)}") from None
