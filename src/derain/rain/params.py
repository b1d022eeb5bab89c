"""Per-clip rain parameters: sampled from a preset with an explicit generator, apart from rendering.

Every random choice that shapes a clip is either a field of :class:`ClipParams` or is drawn at render
time from a generator seeded by ``ClipParams.seed`` (drop positions, per-streak jitter, sparkles, the
veil's noise). ``render_clip(clean, params)`` is therefore a pure function of its inputs, and
``ClipParams.to_dict()`` is all that must be stored to rebuild a data set bit for bit.

Pixel quantities (speeds, widths, densities) are sampled for a frame of 360 lines and multiplied by
``scale`` (densities divided by ``scale**2``), so that a 64x64 patch at scale s shows the same rain as a
crop of a full frame rendered at scale s.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from derain.errors import DerainError

REFERENCE_HEIGHT = 360  # lines of the frame the presets' pixel quantities are defined for


@dataclass
class StreakLayerParams:
    """One depth layer of falling drops; all pixel quantities already multiplied by the clip's scale."""

    name: str  # "far", "mid", "near", "sharp"
    density: float  # drops per pixel of frame area
    speed: float  # mean image speed in px/frame; streak length = speed * exposure
    speed_jitter: float  # relative std of a drop's speed
    angle_jitter: float  # std (degrees) of a drop's direction around the wind angle
    width: float  # Gaussian sigma (px) of the streak's cross-section (0 = sharp, anti-aliased only)
    brightness: float  # peak intensity of a streak, 0..1
    brightness_jitter: float  # relative spread of a drop's brightness
    parallax: float  # how strongly the layer follows the camera's translation (background = 1)
    occluding: bool = False  # may produce alpha = 1 (near, heavy drops)


@dataclass
class SparkleParams:
    density: float = 0.0  # speckles per pixel per frame (0 = off)
    brightness: float = 0.0
    size: float = 0.6  # Gaussian sigma in px


@dataclass
class OcclusionParams:
    enabled: bool = False
    threshold: float = 1.0  # near-layer intensity above which the background is hidden
    brighten: float = 0.5  # A = L + brighten * (1 - L), L = blurred scene light
    blur: float = 8.0  # downsampling factor of the scene light seen through a drop


@dataclass
class VeilParams:
    strength: float = 0.0  # maximum opacity of the haze (0 = off)
    base: float = 0.5  # share of the strength present everywhere (rest modulated by smooth noise)
    gradient: float = 0.3  # extra veil towards the top of the frame (distance)
    brightness: float = 0.85  # veil colour = brightness * mix(white, scene light, tint)
    drift: float = 1.0  # how fast the mist moves with the wind (px/frame)


@dataclass
class CameraParams:
    """Smooth random trajectory used to animate a still (and to move the rain with the camera).

    Background sample point for output pixel p (centred coordinates) at frame t:
    ``q = c + R(rot_t) p / zoom_t + shift_t``. ``track`` (per-frame background translations in px,
    estimated from a real video) replaces the trajectory when set.
    """

    pan: tuple[float, float] = (0.0, 0.0)  # px/frame (x, y)
    accel: tuple[float, float] = (0.0, 0.0)  # px/frame^2
    zoom: float = 0.0  # log-zoom per frame
    rotation: float = 0.0  # degrees per frame
    shake: float = 0.0  # amplitude (px) of hand shake
    shake_freq: tuple[float, ...] = (0.11, 0.23, 0.37)  # cycles per frame
    shake_phase: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # x phases then y phases
    crop: tuple[float, float] = (0.5, 0.5)  # where the crop sits in the source's slack, 0..1
    track: list[list[float]] | None = None


@dataclass
class ClipParams:
    """Everything needed to render one clip. JSON-able via :meth:`to_dict` / :meth:`from_dict`."""

    preset: str
    frames: int
    height: int
    width: int
    scale: float
    seed: int  # render seed: drop positions, jitter, sparkles, veil noise
    wind_angle: float  # degrees from vertical; positive = drops drift towards +x
    exposure: float  # shutter time as a fraction of the frame interval
    tint: float  # 0 = white rain, 1 = rain coloured like the scene's mean light
    layers: list[StreakLayerParams] = field(default_factory=list)
    sparkle: SparkleParams = field(default_factory=SparkleParams)
    occlusion: OcclusionParams = field(default_factory=OcclusionParams)
    veil: VeilParams = field(default_factory=VeilParams)
    camera: CameraParams = field(default_factory=CameraParams)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ClipParams:
        d = dict(d)
        cam = dict(d.pop("camera", {}))
        for key in ("pan", "accel", "shake_freq", "shake_phase", "crop"):
            if key in cam:
                cam[key] = tuple(cam[key])
        return cls(
            layers=[StreakLayerParams(**x) for x in d.pop("layers", [])],
            sparkle=SparkleParams(**d.pop("sparkle", {})),
            occlusion=OcclusionParams(**d.pop("occlusion", {})),
            veil=VeilParams(**d.pop("veil", {})),
            camera=CameraParams(**cam),
            **d,
        )

    def validate(self) -> None:
        """Raise DerainError when a value is out of its meaningful range."""
        if self.frames < 1 or self.height < 8 or self.width < 8:
            raise DerainError(
                f"clip size must be at least 1x8x8, got {self.frames}x{self.height}x{self.width}"
            )
        if not (0.05 <= self.scale <= 20):
            raise DerainError(f"rain scale must lie in [0.05, 20], got {self.scale}")
        if not (0 < self.exposure <= 4):
            raise DerainError(f"exposure must lie in (0, 4] frame intervals, got {self.exposure}")
        if not (-80 <= self.wind_angle <= 80):
            raise DerainError(f"wind angle must lie in [-80, 80] degrees, got {self.wind_angle}")
        for lay in self.layers:
            if lay.density < 0 or lay.speed < 0 or lay.width < 0 or not (0 <= lay.brightness <= 1):
                raise DerainError(f"streak layer {lay.name!r} has an out-of-range value")
        if not (0 <= self.veil.strength <= 1) or not (0 <= self.tint <= 1):
            raise DerainError("veil strength and tint must lie in [0, 1]")


def _u(rng: np.random.Generator, r) -> float:
    """A uniform draw from a (lo, hi) range (a plain number is returned as it is)."""
    if isinstance(r, (int, float)):
        return float(r)
    lo, hi = r
    return float(lo + (hi - lo) * rng.random())


def _logu(rng: np.random.Generator, r) -> float:
    """A log-uniform draw from a positive (lo, hi) range."""
    if isinstance(r, (int, float)):
        return float(r)
    lo, hi = r
    return float(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * rng.random()))


def sample_clip_params(
    preset, rng: np.random.Generator, *, frames: int, height: int, width: int, scale: float | None = None
) -> ClipParams:
    """Draw one clip's parameters from ``preset`` (a name or a :class:`RainPreset`).

    ``scale`` (default ``height / 360``) converts the preset's pixel quantities to this frame size.
    Only ``rng`` supplies randomness; the result renders identically everywhere.
    """
    from derain.rain.presets import get_preset

    p = get_preset(preset)
    if frames < 1 or height < 8 or width < 8:
        raise DerainError(f"clip size must be at least 1x8x8, got {frames}x{height}x{width}")
    s = float(height / REFERENCE_HEIGHT if scale is None else scale)
    if not (0.05 <= s <= 20):
        raise DerainError(f"rain scale must lie in [0.05, 20], got {s}")
    wind = _u(rng, p.wind_angle) * (1 if rng.random() < 0.5 else -1)
    exposure = _u(rng, p.exposure)
    layers = []
    for lr in p.layers:
        if rng.random() >= lr.probability:
            continue
        speed = _u(rng, lr.speed)
        layers.append(
            StreakLayerParams(
                name=lr.name,
                density=_logu(rng, lr.density) / 1e4 / (s * s),
                speed=speed * s,
                speed_jitter=lr.speed_jitter,
                angle_jitter=_u(rng, p.angle_jitter) * lr.jitter_gain,
                width=_u(rng, lr.width) * s,
                brightness=_u(rng, lr.brightness),
                brightness_jitter=lr.brightness_jitter,
                parallax=lr.parallax,
                occluding=lr.occluding,
            )
        )
    sparkle = SparkleParams()
    if p.sparkle is not None:
        sparkle = SparkleParams(
            density=_logu(rng, p.sparkle.density) / 1e4 / (s * s),
            brightness=_u(rng, p.sparkle.brightness),
            size=max(0.4, _u(rng, p.sparkle.size) * s),
        )
    occ = OcclusionParams()
    if p.occlusion is not None and any(x.occluding for x in layers):
        near_b = max(x.brightness for x in layers if x.occluding)
        occ = OcclusionParams(
            enabled=True,
            threshold=near_b * _u(rng, p.occlusion.threshold),
            brighten=_u(rng, p.occlusion.brighten),
            blur=8.0,
        )
    veil = VeilParams()
    if p.veil is not None:
        veil = VeilParams(
            strength=_u(rng, p.veil.strength),
            base=_u(rng, p.veil.base),
            gradient=_u(rng, p.veil.gradient),
            brightness=_u(rng, p.veil.brightness),
            drift=_u(rng, (0.3, 2.0)) * s,
        )
    cam = _sample_camera(p.camera, rng, s)
    params = ClipParams(
        preset=p.name,
        frames=int(frames),
        height=int(height),
        width=int(width),
        scale=s,
        seed=int(rng.integers(0, 2**31 - 1)),
        wind_angle=wind,
        exposure=exposure,
        tint=_u(rng, p.tint),
        layers=layers,
        sparkle=sparkle,
        occlusion=occ,
        veil=veil,
        camera=cam,
    )
    params.validate()
    return params


def _sample_camera(c, rng: np.random.Generator, s: float) -> CameraParams:
    speed = _u(rng, c.pan) * s
    direction = rng.random() * 2 * math.pi
    accel = _u(rng, c.accel) * s
    adir = rng.random() * 2 * math.pi
    return CameraParams(
        pan=(speed * math.cos(direction), speed * math.sin(direction) * 0.5),
        accel=(accel * math.cos(adir), accel * math.sin(adir) * 0.5),
        zoom=_u(rng, c.zoom) * (1 if rng.random() < 0.5 else -1),
        rotation=_u(rng, c.rotation) * (1 if rng.random() < 0.5 else -1),
        shake=_u(rng, c.shake) * s,
        shake_freq=tuple(float(f) for f in rng.uniform(0.05, 0.4, size=3)),
        shake_phase=tuple(float(f) for f in rng.uniform(0, 2 * math.pi, size=6)),
        crop=(float(rng.random()), float(rng.random())),
    )
