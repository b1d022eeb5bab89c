"""Synthetic rainy data: clean clips from sources, written data sets, and an on-the-fly torch Dataset.

- :func:`clean_clip` turns a source (still or video) into the clean clip B for one set of parameters.
- :func:`write_dataset` renders N clips and writes ``{input,gt,streak,alpha,reliance}/<clip>/<frame>.png``
  plus ``meta.json`` atomically (what ``derain synth`` does).
- :class:`SyntheticRainClips` renders training patches on the fly, deterministically per index.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from derain.data.sources import CleanSource, load_sources, resize_to_cover
from derain.errors import DerainError
from derain.rain import motion
from derain.rain.compose import RainLayers, render_clip
from derain.rain.occlusion import scene_haze
from derain.rain.params import REFERENCE_HEIGHT, ClipParams, sample_clip_params
from derain.rain.presets import get_preset

LAYERS = ("input", "gt", "streak", "alpha", "reliance")
STILL_MARGIN = 1.1  # a still resized with --fit scale covers the frame by 10% more, room for motion


def clean_clip(src: CleanSource, params: ClipParams, *, start: int = 0, fit: str = "crop") -> np.ndarray:
    """The clean clip ``(T, H, W, 3)`` float32 in [0, 1] for ``params`` (a video also gets its track).

    ``fit="crop"`` needs a source at least as large as the frame; ``fit="scale"`` resizes it first.
    """
    t_n, h, w = params.frames, params.height, params.width
    data = src.load() if src.kind == "still" else src.load(start, t_n)
    sh, sw = data.shape[-3:-1]
    if fit == "scale":
        data = resize_to_cover(data, h, w, STILL_MARGIN if src.kind == "still" else 1.0)
    elif sh < h or sw < w:
        raise DerainError(f"clean source {src.name} is {sw}x{sh}, smaller than {w}x{h} (use --fit scale)")
    if src.kind == "still":
        return motion.animate_still(data, params.camera, frames=t_n, height=h, width=w)
    clip = motion.crop_video(data, params.camera, height=h, width=w)
    params.camera.track = motion.estimate_track(clip) if t_n > 1 else [[0.0, 0.0]]
    return clip


def _to_u8(x: np.ndarray) -> np.ndarray:
    return (x * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def _save(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(path, compress_level=1)


def safe_name(name: str) -> str:
    """A clip-folder name from a source name (``kodak24/kodim01`` -> ``kodak24_kodim01``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "clip"


def plan_clips(
    sources: list[CleanSource], preset, *, clips: int, frames: int, height: int, width: int, seed: int
):
    """Deterministic ``[(name, source, start, params)]``: sources in a seeded order, one rng per clip."""
    if not sources:
        raise DerainError("no clean sources")
    order = np.random.default_rng(seed).permutation(len(sources))
    plan = []
    for i in range(clips):
        src = sources[int(order[i % len(sources)])]
        rng = np.random.default_rng([seed, i])
        params = sample_clip_params(preset, rng, frames=frames, height=height, width=width)
        start = 0
        if src.kind == "video":
            if src.frames < frames:
                raise DerainError(f"clean clip {src.name} has {src.frames} frames, fewer than {frames}")
            start = int(rng.integers(0, src.frames - frames + 1))
        plan.append((f"{i:03d}_{safe_name(src.name)}", src, start, params))
    return plan


def write_dataset(
    out: str | os.PathLike,
    *,
    preset: str,
    clean: str | os.PathLike | list[CleanSource] | None = None,
    clips: int = 4,
    frames: int = 10,
    width: int = 320,
    height: int = 180,
    seed: int = 0,
    fit: str = "crop",
    overwrite: bool = False,
    plan=None,
    extra_meta: dict | None = None,
    layers: tuple[str, ...] = LAYERS,
    workers: int | None = None,
) -> Path:
    """Render a data set into ``out`` (atomically); see the module docstring for the layout.

    PNGs are 8-bit: ``round(255 x value)``; alpha is a grey PNG of 0/255. ``plan`` (from
    :func:`plan_clips`) overrides the seeded choice of sources and parameters. ``layers`` picks what
    to write (``input`` and ``gt`` at least); PNG encoding runs on ``workers`` threads (default: CPUs).
    """
    from derain import __version__
    from derain.io import atomic_output, write_image

    get_preset(preset)
    if seed < 0:
        raise DerainError(f"the seed must be a non-negative integer, got {seed}")
    if clips < 1 or frames < 1 or width < 8 or height < 8:
        raise DerainError(f"need clips >= 1, frames >= 1 and a size of at least 8x8 (got {width}x{height})")
    if fit not in ("crop", "scale"):
        raise DerainError(f"--fit must be crop or scale, got {fit!r}")
    bad = [x for x in layers if x not in LAYERS]
    if bad or not {"input", "gt"} <= set(layers):
        raise DerainError(
            f"--layers must include input and gt, from {', '.join(LAYERS)}; got {', '.join(layers)}"
        )
    out = Path(out)
    if out.is_dir() and not any(out.iterdir()):
        overwrite = True  # an empty folder may be filled
    elif out.exists() and not overwrite:
        raise DerainError(f"output exists and is not empty: {out} (use --overwrite to replace it)")
    sources = clean if isinstance(clean, list) else load_sources(clean)
    if plan is None:
        plan = plan_clips(sources, preset, clips=clips, frames=frames, height=height, width=width, seed=seed)
    meta = {
        "derain_version": __version__,
        "preset": preset,
        "seed": seed,
        "frames": frames,
        "width": width,
        "height": height,
        "fit": fit,
        "clean": None if isinstance(clean, list) or clean is None else str(clean),
        "layers": [x for x in LAYERS if x in layers],
        "quantisation": "8-bit PNG, round(255*x); alpha grey 0/255; streak is the effective S "
        "(input = (1-alpha)*(gt+streak) + alpha*reliance holds before rounding)",
        **(extra_meta or {}),
        "clips": [],
    }
    workers = max(1, workers or os.cpu_count() or 1)
    with atomic_output(out, overwrite=overwrite) as tmp, ThreadPoolExecutor(workers) as pool:
        pending, previous = [], []
        for name, src, start, params in plan:
            rl = render_clip(clean_clip(src, params, start=start, fit=fit), params)
            arrays = (rl.rainy, rl.clean, rl.streak, rl.alpha, rl.reliance)
            for key, arr in zip(LAYERS, arrays, strict=True):
                if key not in layers:
                    continue
                folder = tmp / key / name
                folder.mkdir(parents=True)
                u8 = _to_u8(arr)
                for t in range(len(u8)):
                    writer = _save if key == "alpha" else write_image
                    pending.append(pool.submit(writer, folder / f"{t:05d}.png", u8[t]))
            meta["clips"].append(
                {
                    "name": name,
                    "source": src.name,
                    "kind": src.kind,
                    "start": start,
                    "params": params.to_dict(),
                }
            )
            # PNGs of this clip encode while the next one renders; the previous clip's must be done.
            for f in previous:
                f.result()
            previous, pending = pending, []
        for f in previous:
            f.result()
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def _half(x: np.ndarray) -> np.ndarray:
    """2x2 box downsampling of ``(..., H, W, 3)`` uint8, rounded."""
    h, w = x.shape[-3] // 2 * 2, x.shape[-2] // 2 * 2
    x = x[..., :h, :w, :].astype(np.uint16)
    s = x[..., 0::2, 0::2, :] + x[..., 1::2, 0::2, :] + x[..., 0::2, 1::2, :] + x[..., 1::2, 1::2, :]
    return ((s + 2) // 4).astype(np.uint8)


class SyntheticRainClips(Dataset):
    """Training patches rendered on the fly: item ``i`` depends only on ``(seed, i)``.

    Returns a dict of float32 tensors ``(T, C, h, w)`` in [0, 1]: ``rainy``, ``clean``, ``streak``,
    ``alpha`` (C = 1, exactly 0/1), ``reliance``; and ``preset`` (int64 index into ``presets``).
    Each item picks a preset, a source (videos and stills equally often when both exist), a content
    scale in ``scale_range`` (source pixels per output pixel, so one patch sees the rain of a full
    frame of that scale) and renders rain at patch size with that scale. Decoded sources are cached
    in memory at full and half resolution. ``scene_haze`` is the share of clips whose clean
    background gets haze of its own (:func:`derain.rain.occlusion.scene_haze`), kept in ``clean``:
    0 renders exactly what earlier versions rendered. ``dry`` is the share of clips left without
    rain (``rainy == clean``, no streaks): without them a model never sees a dry scene and always
    removes *something* (measured: a bright, flat clean clip came out 4.7 luma levels darker).
    """

    def __init__(
        self,
        *,
        sources: str | os.PathLike | list[CleanSource] | None = None,
        presets: str | tuple[str, ...] | list[str] = ("light",),
        frames: int = 9,
        patch: int | tuple[int, int] = 64,
        length: int = 10_000,
        seed: int = 0,
        scale_range: tuple[float, float] = (0.5, 1.0),
        scene_haze: float = 0.0,
        dry: float = 0.0,
    ) -> None:
        self.sources = sources if isinstance(sources, list) else load_sources(sources)
        self.presets = [presets] if isinstance(presets, str) else list(presets)
        for p in self.presets:
            get_preset(p)
        self.frames = int(frames)
        self.h, self.w = (patch, patch) if isinstance(patch, int) else tuple(patch)
        self.length, self.seed = int(length), int(seed)
        self.scale_range = scale_range
        if not 0.0 <= scene_haze <= 1.0:
            raise DerainError(f"scene_haze is a share of clips in [0, 1], got {scene_haze}")
        self.scene_haze = float(scene_haze)
        if not 0.0 <= dry <= 1.0:
            raise DerainError(f"dry is a share of clips in [0, 1], got {dry}")
        self.dry = float(dry)
        if self.frames < 1 or self.h < 8 or self.w < 8 or self.length < 1 or self.seed < 0:
            raise DerainError(
                "SyntheticRainClips needs frames >= 1, a patch of at least 8x8, length >= 1, seed >= 0"
            )
        self.videos = [s for s in self.sources if s.kind == "video" and s.frames >= self.frames]
        self.stills = [s for s in self.sources if s.kind == "still"]
        if not self.videos and not self.stills:
            raise DerainError(f"no usable clean source (videos need at least {self.frames} frames)")
        self._cache: dict[str, tuple[list[np.ndarray], np.ndarray | None]] = {}

    def __len__(self) -> int:
        return self.length

    def _levels(self, src: CleanSource):
        """``([full, half], track)`` for a source, decoded once; ``track`` (T, 2) px for videos."""
        if src.name not in self._cache:
            full = src.load()
            if min(full.shape[-3:-1]) < 2 * max(self.h, self.w):
                full = resize_to_cover(full, 2 * self.h, 2 * self.w, STILL_MARGIN)
            half = _half(full)
            track = None
            if src.kind == "video":  # the camera's pan, so that the rain follows it
                track = np.asarray(motion.estimate_track(half)) * 2
            self._cache[src.name] = ([full, half], track)
        return self._cache[src.name]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        p_idx = int(rng.integers(len(self.presets)))
        use_video = bool(self.videos) and (not self.stills or rng.random() < 0.5)
        pool = self.videos if use_video else self.stills
        src = pool[int(rng.integers(len(pool)))]
        (full, half), track = self._levels(src)
        r = float(rng.uniform(*self.scale_range))  # output px per source px
        src_h = full.shape[-3]
        level, arr = (0.5, half) if r < 0.7 and min(half.shape[-3:-1]) >= max(self.h, self.w) else (1.0, full)
        scale = max(0.3, r * src_h / REFERENCE_HEIGHT)
        t_n, h, w = self.frames, self.h, self.w
        params = sample_clip_params(self.presets[p_idx], rng, frames=t_n, height=h, width=w, scale=scale)
        rel = r / level  # output px per px of the cached level
        vh, vw = arr.shape[-3] * rel, arr.shape[-2] * rel
        if use_video:
            start = int(rng.integers(0, src.frames - t_n + 1))
            still_cam = type(params.camera)(crop=params.camera.crop)
            affine, fit = motion.still_affines(still_cam, t_n, h, w, vh, vw)
            params.camera.track = ((track[start : start + t_n] - track[start]) * r * fit).tolist()
            clip = motion.warp(arr[start : start + t_n], affine, height=h, width=w, src_scale=rel)
        else:
            affine, _ = motion.still_affines(params.camera, t_n, h, w, vh, vw)
            clip = motion.warp(arr, affine, height=h, width=w, src_scale=rel)
        if self.scene_haze > 0 and rng.random() < self.scene_haze:  # no draw when off: same items as before
            clip = scene_haze(clip, params, rng)
        # Rendering draws nothing from rng (it uses params.seed), so deciding first changes no item.
        if self.dry > 0 and rng.random() < self.dry:  # no rain: nothing to render
            zero = np.zeros_like(clip)
            layers = RainLayers(
                rainy=clip, clean=clip, streak=zero, alpha=zero[..., :1], reliance=clip, params=params
            )
        else:
            layers = render_clip(clip, params)

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

        return {
            "rainy": t(layers.rainy),
            "clean": t(layers.clean),
            "streak": t(layers.streak),
            "alpha": t(layers.alpha),
            "reliance": t(layers.reliance),
            "preset": torch.tensor(p_idx, dtype=torch.int64),
        }
