"""Shared pieces of :mod:`derain.io`: extensions, :class:`VideoInfo`, natural sort, image files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from derain.errors import DerainError

VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# Container metadata key that records the true frame size when odd sizes were padded to even.
SIZE_TAG = "derain_size"

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class VideoInfo:
    """What a reader knows about its input before decoding it all.

    ``width``/``height`` are the display size (rotation applied); ``fps`` is exact (the stream's
    average rate for videos, the caller's ``fps`` for folders and images); ``num_frames`` is
    ``None`` when the container does not say (mkv, webm); ``rotation`` is the counter-clockwise
    turn in degrees (0, 90, 180, 270) that was applied to the stored frames; ``frame_names`` is the
    sorted file names of a frame folder (all of them, before ``start``/``end``), else ``None``.
    """

    path: Path
    kind: str  # "video" | "folder" | "image"
    width: int
    height: int
    fps: Fraction
    num_frames: int | None
    rotation: int = 0
    has_audio: bool = False
    frame_names: tuple[str, ...] | None = None

    @property
    def duration(self) -> float | None:
        """Seconds of video (``num_frames / fps``), ``None`` when the frame count is unknown."""
        return None if self.num_frames is None else float(self.num_frames / self.fps)


def natural_key(name: str | os.PathLike) -> tuple:
    """Sort key that orders digit runs by value: ``f2.png`` < ``f10.png``; case-insensitive."""
    text = os.fspath(name)
    parts = _DIGITS.split(text.casefold())
    key = tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
    return (key, text)


def output_kind(path: str | os.PathLike) -> str:
    """``"video"`` for a video extension, ``"image"`` for an image extension, else ``"folder"``."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_EXTS:
        return "video"
    if suffix in IMAGE_EXTS:
        return "image"
    return "folder"


def check_frame(frame: object, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Validate one frame: ``(H, W, 3)`` uint8, and ``(H, W) == shape`` when given."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise DerainError(f"a frame must be an (H, W, 3) uint8 RGB array, got {desc}")
    if shape is not None and frame.shape[:2] != tuple(shape):
        h, w = frame.shape[:2]
        raise DerainError(f"frame size changed from {shape[1]}x{shape[0]} to {w}x{h}; all frames must match")
    return frame


def _to_uint8_rgb(img) -> np.ndarray:
    """PIL image in any mode -> (H, W, 3) uint8 RGB (see :func:`read_image`)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode != "F":
            arr = arr * (255.0 / 65535.0)  # 16-bit (or 32-bit integer) samples
        elif arr.max(initial=0.0) <= 1.0:
            arr = arr * 255.0  # float images in 0..1
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, LA, P, RGBA, CMYK, YCbCr...: alpha is dropped, not blended
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB in display orientation.

    EXIF orientation is applied. Grayscale is repeated to three channels, alpha is dropped,
    palettes are expanded, 16-bit images are scaled to 0..255 (``round(v * 255 / 65535)``), float
    images are taken as 0..1. Raises :class:`DerainError` when the file cannot be decoded.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return _to_uint8_rgb(img)
    except FileNotFoundError:
        raise DerainError(f"input not found: {path}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DerainError(f"cannot read image {path}: {_one_line(exc)}") from None


def write_image(path: str | os.PathLike, frame: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB frame; the format follows the extension.

    PNG is written with ``compress_level=1`` (fast, lossless); JPEG with quality 95.
    """
    from PIL import Image

    frame = check_frame(frame)
    suffix = Path(path).suffix.lower()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, "PNG")
    kwargs = {"compress_level": 1} if fmt == "PNG" else ({"quality": 95} if fmt == "JPEG" else {})
    Image.fromarray(np.ascontiguousarray(frame)).save(path, format=fmt, **kwargs)


def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
