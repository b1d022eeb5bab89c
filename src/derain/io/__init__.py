"""Streaming video I/O for derain: read frames, write frames, never hold a whole clip.

Conventions (see docs/architecture.md):

- A frame is a contiguous ``numpy.ndarray`` of shape ``(H, W, 3)``, ``uint8``, RGB, in display
  orientation: rotation metadata (display matrix) of videos and EXIF orientation of images is
  already applied. Grayscale, alpha, palette and 16-bit images are converted to RGB uint8.
- Inputs are a video file (anything FFmpeg reads; mp4, mkv, mov, avi, webm...), a folder of
  images (png/jpg/jpeg/bmp/tif/tiff in natural order, ``f2.png`` before ``f10.png``; hidden files
  are skipped, any other file is an error) or one image.
- Frame rates are exact :class:`fractions.Fraction` values (e.g. ``30000/1001``), never floats.
- Outputs are written under a hidden temporary name next to the target and renamed when
  complete (:func:`atomic_output`, :class:`FrameWriter`); an existing output needs ``overwrite``
  and an output may never be one of the inputs.
- Problems a user can fix raise :class:`derain.errors.DerainError` with a one-line message.
"""

from __future__ import annotations

from derain.io.atomic import atomic_output
from derain.io.common import (
    IMAGE_EXTS,
    VIDEO_EXTS,
    VideoInfo,
    natural_key,
    output_kind,
    read_image,
    write_image,
)
from derain.io.readers import FrameReader, probe
from derain.io.writers import FrameWriter

__all__ = [
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "FrameReader",
    "FrameWriter",
    "VideoInfo",
    "atomic_output",
    "natural_key",
    "output_kind",
    "probe",
    "read_image",
    "write_image",
]
