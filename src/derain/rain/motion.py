"""Camera motion: a smooth random trajectory turns a still into a clip; rain follows the camera.

Coordinates are in output pixels, centred on the frame (x right, y down). For a still the background
sample point of output pixel ``p`` at frame ``t`` is ``q = c + (R(rot_t) p / zoom_t + shift_t) / fit``
where ``fit >= 1`` is the smallest extra zoom that keeps the whole trajectory inside the source (so there
are never black borders). A world point ``w`` (output-pixel units) is seen at ``zoom_t R(-rot_t)(w -
k shift_t)`` where ``k`` is the parallax of its depth layer (background: 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from derain.errors import DerainError
from derain.rain.params import CameraParams


def trajectory(cam: CameraParams, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame ``zoom (T,)``, ``rotation (T,)`` in radians and ``shift (T, 2)`` in px (float64).

    With ``cam.track`` set (a real video), zoom is 1, rotation 0 and shift is minus the track.
    """
    t = np.arange(frames, dtype=np.float64)
    if cam.track is not None:
        track = np.asarray(cam.track, dtype=np.float64).reshape(-1, 2)
        if len(track) != frames:
            raise DerainError(f"camera track has {len(track)} frames, the clip {frames}")
        return np.ones(frames), np.zeros(frames), -track
    shift = np.outer(t, cam.pan) + 0.5 * np.outer(t * t, cam.accel)
    freq = np.asarray(cam.shake_freq, dtype=np.float64)
    phase = np.asarray(cam.shake_phase, dtype=np.float64).reshape(2, -1)
    amp = cam.shake / math.sqrt(len(freq))
    for axis in range(2):
        shift[:, axis] += amp * np.sin(2 * np.pi * np.outer(t, freq) + phase[axis]).sum(axis=1)
    if frames:
        shift -= 0.5 * (shift.max(axis=0) + shift.min(axis=0))  # centre the path in the source
    zoom = np.exp(cam.zoom * (t - 0.5 * (frames - 1)))
    rot = np.deg2rad(cam.rotation) * (t - 0.5 * (frames - 1))
    return zoom, rot, shift


def still_affines(
    cam: CameraParams, frames: int, height: int, width: int, src_h: float, src_w: float
) -> tuple[np.ndarray, float]:
    """Per-frame affine ``(T, 2, 3)`` from centred output px to source px, and the fit zoom (>= 1).

    The whole trajectory stays inside a source of ``src_h x src_w`` px; ``cam.crop`` places it in the
    remaining slack.
    """
    zoom, rot, shift = trajectory(cam, frames)
    cos, sin = np.cos(rot) / zoom, np.sin(rot) / zoom
    lin = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (T, 2, 2)
    hx, hy = (width - 1) / 2, (height - 1) / 2
    corners = np.array([[-hx, -hy], [hx, -hy], [-hx, hy], [hx, hy]])
    pts = np.einsum("tij,cj->tci", lin, corners) + shift[:, None, :]
    ext = np.abs(pts).max(axis=(0, 1))  # half-extent in x, y
    room = np.array([(src_w - 1) / 2, (src_h - 1) / 2])
    fit = float(max(1.0, *(ext / np.maximum(room, 1e-9))))
    ext = ext / fit
    centre = ext + np.asarray(cam.crop) * np.maximum(2 * room - 2 * ext, 0)
    return np.concatenate([lin / fit, (shift / fit + centre)[:, :, None]], axis=2), fit


def warp(
    src: np.ndarray,
    affine: np.ndarray,
    *,
    height: int,
    width: int,
    src_scale: float = 1.0,
    mode: str = "bicubic",
) -> np.ndarray:
    """Sample a clip ``(T, H, W, 3)`` float32 in [0, 1] from ``src`` along per-frame affines.

    ``src`` is a still ``(Hs, Ws, 3)`` or a clip ``(T, Hs, Ws, 3)`` (uint8 or float in [0, 1]);
    ``affine (T, 2, 3)`` maps centred output px to px of ``src`` resized by ``src_scale``. Only the
    region the trajectory touches is converted, so a small patch from a big frame is cheap.
    """
    a = affine.astype(np.float64).copy()
    if src_scale != 1.0:  # resized px -> original px (pixel centres: x = (x' + 0.5) / s - 0.5)
        a[:, :, :2] /= src_scale
        a[:, :, 2] = (a[:, :, 2] + 0.5) / src_scale - 0.5
    hx, hy = (width - 1) / 2, (height - 1) / 2
    corners = np.array([[-hx, -hy, 1], [hx, -hy, 1], [-hx, hy, 1], [hx, hy, 1]])
    pts = np.einsum("tij,cj->tci", a, corners).reshape(-1, 2)
    sh, sw = src.shape[-3:-1]
    x0 = max(0, int(np.floor(pts[:, 0].min())) - 2)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - 2)
    x1 = min(sw, int(np.ceil(pts[:, 0].max())) + 3)
    y1 = min(sh, int(np.ceil(pts[:, 1].max())) + 3)
    region = torch.from_numpy(_to_float(src[..., y0:y1, x0:x1, :]))
    region = region.permute(2, 0, 1)[None] if region.ndim == 3 else region.permute(0, 3, 1, 2)
    a[:, :, 2] -= (x0, y0)
    rh, rw = y1 - y0, x1 - x0
    ys = np.arange(height) - hy
    xs = np.arange(width) - hx
    px, py = np.meshgrid(xs, ys)
    out = []
    step = len(a) if height * width * len(a) <= 1 << 20 else 1  # whole clip at once when small
    for t0 in range(0, len(a), step):
        at = a[t0 : t0 + step]
        qx = at[:, 0, 0, None, None] * px + at[:, 0, 1, None, None] * py + at[:, 0, 2, None, None]
        qy = at[:, 1, 0, None, None] * px + at[:, 1, 1, None, None] * py + at[:, 1, 2, None, None]
        grid = np.stack([qx * (2 / max(rw - 1, 1)) - 1, qy * (2 / max(rh - 1, 1)) - 1], -1)
        g = torch.from_numpy(grid.astype(np.float32))
        inp = region[t0 : t0 + step] if region.shape[0] > 1 else region.expand(len(at), -1, -1, -1)
        out.append(F.grid_sample(inp, g, mode=mode, padding_mode="border", align_corners=True))
    clip = torch.cat(out).permute(0, 2, 3, 1).clamp_(0, 1)
    return np.ascontiguousarray(clip.numpy())


def animate_still(
    image: np.ndarray, cam: CameraParams, *, frames: int, height: int, width: int
) -> np.ndarray:
    """Warp a still ``(Hs, Ws, 3)`` (uint8 or float in [0,1]) into a clip ``(T, H, W, 3)`` float32 in [0,1].

    Sub-pixel bicubic sampling along the camera trajectory; the source must be at least ``H x W``.
    """
    src_h, src_w = image.shape[:2]
    if src_h < height or src_w < width:
        raise DerainError(f"clean image is {src_w}x{src_h}, smaller than the requested {width}x{height}")
    affine, _ = still_affines(cam, frames, height, width, src_h, src_w)
    return warp(image, affine, height=height, width=width)


def crop_video(frames: np.ndarray, cam: CameraParams, *, height: int, width: int) -> np.ndarray:
    """Crop a clip ``(T, Hs, Ws, 3)`` to ``(T, H, W, 3)`` float32 at the position ``cam.crop`` picks."""
    src_h, src_w = frames.shape[1:3]
    if src_h < height or src_w < width:
        raise DerainError(f"clean video is {src_w}x{src_h}, smaller than the requested {width}x{height}")
    y0 = int(round(cam.crop[1] * (src_h - height)))
    x0 = int(round(cam.crop[0] * (src_w - width)))
    return _to_float(frames[:, y0 : y0 + height, x0 : x0 + width])


def estimate_track(clip: np.ndarray, *, max_side: int = 160) -> list[list[float]]:
    """Global translation of the background (px, frame 0 = (0, 0)) by phase correlation, ``T x 2``.

    Used so that rain added to a real video follows its camera pan.
    """
    grey = clip[..., 0] * 0.299 + clip[..., 1] * 0.587 + clip[..., 2] * 0.114
    f = max(1, int(math.ceil(max(grey.shape[1:]) / max_side)))
    h, w = (grey.shape[1] // f) * f, (grey.shape[2] // f) * f
    small = grey[:, :h, :w].reshape(len(grey), h // f, f, w // f, f).mean(axis=(2, 4))
    win = np.outer(np.hanning(small.shape[1]), np.hanning(small.shape[2]))
    spec = np.fft.rfft2((small - small.mean(axis=(1, 2), keepdims=True)) * win)
    track = [[0.0, 0.0]]
    for a, b in zip(spec[:-1], spec[1:], strict=True):
        dx, dy = phase_shift(a, b, small.shape[1:])
        track.append([track[-1][0] + dx * f, track[-1][1] + dy * f])
    return track


def phase_shift(spec_a: np.ndarray, spec_b: np.ndarray, shape) -> tuple[float, float]:
    """Sub-pixel shift (dx, dy) that moves image a onto image b, from their ``rfft2`` spectra."""
    cross = spec_b * np.conj(spec_a)
    corr = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=shape)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = shape
    vy = [corr[(iy + d) % h, ix] for d in (-1, 0, 1)]
    vx = [corr[iy, (ix + d) % w] for d in (-1, 0, 1)]
    out = []
    for i, n, v in ((ix, w, vx), (iy, h, vy)):
        denom = v[0] - 2 * v[1] + v[2]
        sub = 0.5 * (v[0] - v[2]) / denom if abs(denom) > 1e-12 else 0.0
        pos = i + float(np.clip(sub, -0.5, 0.5))
        out.append(pos - n if pos > n / 2 else pos)
    return out[0], out[1]


def _to_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(a, dtype=np.float32)
