"""Streaming readers: videos (PyAV), frame folders and single images -> RGB uint8 frames."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from derain.errors import DerainError
from derain.io.common import IMAGE_EXTS, SIZE_TAG, VideoInfo, _one_line, natural_key, read_image

# Files that operating systems drop into folders; skipped like hidden files.
_JUNK_FILES = {"thumbs.db", "desktop.ini"}


def as_fraction(value, name: str = "fps") -> Fraction:
    """``value`` (int, float, str like ``"30000/1001"``, Fraction) as a positive Fraction."""
    try:
        frac = Fraction(value) if not isinstance(value, float) else Fraction(value).limit_denominator(1001)
    except (TypeError, ValueError, ZeroDivisionError):
        raise DerainError(f"invalid {name}: {value!r}") from None
    if frac <= 0:
        raise DerainError(f"invalid {name}: {value!r} (must be positive)")
    return frac


def _list_folder(path: Path) -> list[str]:
    names, others = [], []
    for entry in os.scandir(path):
        if entry.name.startswith(".") or entry.name.lower() in _JUNK_FILES or entry.is_dir():
            continue
        (names if Path(entry.name).suffix.lower() in IMAGE_EXTS else others).append(entry.name)
    if others:
        bad = min(others, key=natural_key)
        allowed = ", ".join(IMAGE_EXTS)
        raise DerainError(f"not an image in frame folder {path}: {bad} (allowed: {allowed}; move it out)")
    if not names:
        raise DerainError(f"no images in folder: {path}")
    return sorted(names, key=natural_key)


def _duration_tag(text: str | None) -> float | None:
    """Matroska's per-stream ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``) in seconds."""
    try:
        h, m, s = str(text).split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def _decode_salvaging(container, stream) -> Iterator:
    """Decode ``stream`` packet by packet; on a decode error, first flush the frames already decoded.

    ``container.decode`` dies at the first bad packet and drops the frames that a frame-threaded
    decoder still holds (up to one per thread), so a truncated clip would lose its last good frames
    on a many-core machine, or all of them when it is short. Here the decoder is drained before the
    error is re-raised, so callers see every decodable frame, then the error.
    """
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.FFmpegError, OSError):
            while True:
                try:
                    frames = stream.codec_context.decode(None)
                except (av.FFmpegError, OSError):
                    break
                if not frames:
                    break
                yield from frames
            raise
        yield from frames


class FrameReader:
    """Iterate over the frames of a video file, frame folder or image as ``(H, W, 3)`` uint8 RGB.

    Frames are contiguous, in display orientation (rotation metadata applied) and decoded one at a
    time, so memory stays flat. ``start``/``end`` are frame indices (``end`` exclusive; frames
    before ``start`` are decoded and dropped, so the selection is exact). With ``strict=True`` a
    corrupt or truncated video raises :class:`DerainError`; with ``strict=False`` iteration stops
    at the last decodable frame and :attr:`stopped_early` holds a one-line message. ``fps`` is used
    only for folders and images; videos report their own exact average rate. Use as a context
    manager (or exhaust the iterator) so the container is closed.
    """

    def __init__(
        self, path, *, fps=Fraction(25), start: int = 0, end: int | None = None, strict: bool = True
    ):
        self.path = Path(path)
        self.strict = strict
        self.start, self.end = int(start), (None if end is None else int(end))
        if self.start < 0 or (self.end is not None and self.end < self.start):
            raise DerainError(f"invalid frame range: start={start}, end={end}")
        self.frames_read = 0
        self.stopped_early: str | None = None
        self._container = None
        self._iter: Iterator[np.ndarray] | None = None
        fps = as_fraction(fps)
        if not self.path.exists():
            raise DerainError(f"input not found: {self.path}")
        if self.path.is_dir():
            self._names = _list_folder(self.path)
            self._first = read_image(self.path / self._names[0])
            h, w = self._first.shape[:2]
            self.info = VideoInfo(
                self.path, "folder", w, h, fps, len(self._names), frame_names=tuple(self._names)
            )
        elif self.path.suffix.lower() in IMAGE_EXTS:
            self._names = [self.path.name]
            self._first = read_image(self.path)
            h, w = self._first.shape[:2]
            self.info = VideoInfo(self.path, "image", w, h, fps, 1)
        else:
            self._open_video(fps)

    # -- videos ---------------------------------------------------------------------------------
    def _open_video(self, default_fps: Fraction) -> None:
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise DerainError(f"cannot read video {self.path}: {_one_line(exc)}") from None
        container = self._container
        if not container.streams.video:
            self.close()
            raise DerainError(f"no video stream in {self.path}")
        stream = self._stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = Fraction(rate.numerator, rate.denominator) if rate else default_fps
        self._decoder = _decode_salvaging(container, stream)
        try:
            self._first = next(self._decoder, None)
        except (av.FFmpegError, OSError) as exc:
            self.close()
            raise DerainError(f"cannot decode video {self.path}: {_one_line(exc)}") from None
        if self._first is None:
            self.close()
            raise DerainError(f"no frames in video: {self.path}")
        first = self._first
        self._coded = (first.width, first.height)
        self._crop = None
        tags = {k.lower(): v for k, v in container.metadata.items()}
        try:  # true size of an odd-sized clip that FrameWriter padded to even
            cw, ch = (int(v) for v in tags[SIZE_TAG].split("x"))
            if 0 <= first.width - cw <= 1 and 0 <= first.height - ch <= 1:
                self._crop = (ch, cw)
        except (KeyError, ValueError):
            pass
        self._rot_k = round((getattr(first, "rotation", 0) or 0) / 90) % 4
        h, w = self._crop or (first.height, first.width)
        if self._rot_k % 2:
            h, w = w, h
        num = stream.frames if stream.frames and stream.frames > 0 else None
        self.info = VideoInfo(
            self.path,
            "video",
            w,
            h,
            fps,
            num,
            rotation=90 * self._rot_k,
            has_audio=bool(container.streams.audio),
        )
        self._expected = num
        if num is None:  # mkv/webm: estimate from the duration to detect truncation
            seconds = None
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = _duration_tag(stream.metadata.get("DURATION"))
                if seconds is None and container.duration and not container.streams.audio:
                    seconds = container.duration / av.time_base
            if seconds:
                self._expected = round(seconds * fps)

    def _convert(self, frame) -> np.ndarray:
        if (frame.width, frame.height) != self._coded:  # mid-stream size change: keep the first size
            arr = frame.to_ndarray(format="rgb24", width=self._coded[0], height=self._coded[1])
        else:
            arr = frame.to_ndarray(format="rgb24")
        if self._crop is not None:
            arr = arr[: self._crop[0], : self._crop[1]]
        if self._rot_k:
            arr = np.rot90(arr, self._rot_k)
        return np.ascontiguousarray(arr)

    def _stop(self, message: str) -> None:
        if self.strict:
            raise DerainError(message)
        self.stopped_early = message

    def _iter_video(self) -> Iterator[np.ndarray]:
        index, frame = 0, self._first
        self._first = None
        try:
            while frame is not None:
                if self.end is not None and index >= self.end:
                    return
                if index >= self.start:
                    self.frames_read += 1
                    yield self._convert(frame)
                index += 1
                try:
                    frame = next(self._decoder, None)
                except (av.FFmpegError, OSError) as exc:
                    self._stop(
                        f"{self.path} is corrupt: decoding stopped at frame {index} ({_one_line(exc)})"
                    )
                    return
            expected = self._expected
            if expected is not None and index < expected - 2 - expected // 100:
                self._stop(f"{self.path} is truncated: decoding stopped at frame {index} of {expected}")
        finally:
            self.close()

    # -- folders and images ---------------------------------------------------------------------
    def _iter_images(self) -> Iterator[np.ndarray]:
        shape = self._first.shape
        stop = len(self._names) if self.end is None else min(self.end, len(self._names))
        for index in range(self.start, stop):
            if index == 0:
                arr, self._first = self._first, None
            else:
                try:
                    arr = read_image(
                        self.path / self._names[index] if self.info.kind == "folder" else self.path
                    )
                except DerainError as exc:
                    self._stop(f"{exc} (frame {index})")
                    return
                if arr.shape != shape:
                    raise DerainError(
                        f"frame {self._names[index]} is {arr.shape[1]}x{arr.shape[0]} but the first frame is "
                        f"{shape[1]}x{shape[0]}; all frames in a folder must have the same size"
                    )
            self.frames_read += 1
            yield arr

    # -- protocol -------------------------------------------------------------------------------
    @property
    def expected_frames(self) -> int | None:
        """How many frames iteration should yield, when the frame count is known."""
        total = self.info.num_frames
        if total is None:
            return None
        return max(0, min(total, self.end if self.end is not None else total) - self.start)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._iter is None:
            self._iter = self._iter_video() if self.info.kind == "video" else self._iter_images()
        return self._iter

    def close(self) -> None:
        """Release the container (idempotent)."""
        if self._container is not None:
            container, self._container = self._container, None
            container.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        if self._iter is not None:
            self._iter.close()
        self.close()


def probe(path, *, fps=Fraction(25)) -> VideoInfo:
    """Describe a video file, frame folder or image without reading it all (decodes one frame).

    ``fps`` is the rate assumed for folders and images. Raises :class:`DerainError` with one line
    for a missing path, an empty folder, an unreadable file or a video without frames.
    """
    with FrameReader(path, fps=fps) as reader:
        return reader.info
