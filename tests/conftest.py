"""Shared test fixtures: tiny generated videos (with audio) and frame folders.

Everything is generated in code with PyAV/PIL, independently of :mod:`derain.io`, so tests of
other modules can rely on it. Use the fixtures that return functions when you need control::

    def test_x(tmp_path, write_test_video):
        path = write_test_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), fps=Fraction(30000, 1001))
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

YARD = Path(__file__).resolve().parents[2] / "shared/data/real/yard.mp4"


def make_test_frames(frames: int = 12, size: tuple[int, int] = (64, 48), seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames: a colour gradient, a moving bright bar and mild noise.

    ``size`` is ``(width, height)``. Frames differ from each other and are not symmetric, so
    ordering, flips and rotations are detectable.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((frames, h, w, 3), np.uint8)
    for t in range(frames):
        img = np.stack([x * 200 // max(w - 1, 1), y * 200 // max(h - 1, 1), np.full_like(x, 40 + 5 * t)], -1)
        bar = (x - 3 * t) % w < max(w // 8, 2)
        img[bar] = (250, 250, 250)
        img[: max(h // 6, 1), : max(w // 6, 1)] = (255, 0, 0)  # red marker in the top-left corner
        out[t] = np.clip(img + rng.integers(0, 8, img.shape), 0, 255)
    return out


def write_test_video(
    path,
    *,
    frames: int = 12,
    size: tuple[int, int] = (64, 48),
    fps=Fraction(25),
    with_audio: bool = True,
    rotation: int = 0,
    codec: str | None = None,
    audio_rate: int = 44100,
    seed: int = 0,
    faststart: bool = True,
) -> Path:
    """Write :func:`make_test_frames` as a video with PyAV; return the path.

    ``size`` is ``(width, height)`` as stored; ``fps`` any Fraction (kept exactly in mp4/mov);
    ``with_audio`` adds a 440 Hz stereo sine lasting as long as the video (AAC; Opus in webm);
    ``rotation`` stores a display-matrix rotation (counter-clockwise degrees, PyAV convention),
    so a reader must turn the stored frames by that much to show them upright.
    """
    import av

    path = Path(path)
    fps = Fraction(fps)
    suffix = path.suffix.lower()
    codec = codec or ("libvpx-vp9" if suffix == ".webm" else "libx264")
    options = {"movflags": "+faststart"} if faststart and suffix in (".mp4", ".mov", ".m4v") else {}
    clip = make_test_frames(frames, size, seed)
    with av.open(str(path), "w", options=options) as container:
        opts = {"preset": "veryfast", "crf": "18"} if codec == "libx264" else {}
        if codec == "libvpx-vp9":
            opts = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        video = container.add_stream(codec, rate=fps, options=opts)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.time_base = 1 / fps
        if rotation:
            video.set_display_rotation(rotation)
        audio = None
        if with_audio:
            acodec = "libopus" if suffix == ".webm" else "aac"
            audio_rate = 48000 if acodec == "libopus" else audio_rate
            audio = container.add_stream(acodec, rate=audio_rate, layout="stereo")
        container.start_encoding()
        for i, arr in enumerate(clip):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            cc = audio.codec_context
            total = round(frames / fps * audio_rate)
            t = np.arange(total) / audio_rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            resampler = av.AudioResampler(
                format=cc.format.name, layout="stereo", rate=audio_rate, frame_size=cc.frame_size
            )
            chunks = []
            for start in range(0, total, 4096):
                block = np.ascontiguousarray(np.stack([wave[start : start + 4096]] * 2).reshape(1, -1))
                src = av.AudioFrame.from_ndarray(block, format="flt", layout="stereo")
                src.sample_rate = audio_rate
                chunks.extend(resampler.resample(src))
            chunks.extend(resampler.resample(None))
            done = 0
            for chunk in chunks:
                chunk.pts = done
                chunk.time_base = Fraction(1, audio_rate)
                done += chunk.samples
                container.mux(audio.encode(chunk))
            container.mux(audio.encode(None))
    return path


def write_frame_folder(folder, frames: np.ndarray, *, names=None, ext: str = ".png") -> Path:
    """Save ``(T, H, W, 3)`` uint8 frames as images in ``folder`` (created); names default to
    ``f1.png, f2.png, ..., f10.png, ...`` (unpadded, so only natural sorting orders them)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"f{i + 1}{ext}" for i in range(len(frames))]
    for name, arr in zip(names, frames, strict=True):
        Image.fromarray(np.ascontiguousarray(arr)).save(folder / name)
    return folder


def audio_seconds(path) -> float | None:
    """Decoded audio duration of a media file in seconds (``None`` without an audio track)."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


@pytest.fixture
def test_frames():
    """The function :func:`make_test_frames`."""
    return make_test_frames


@pytest.fixture(name="write_test_video")
def write_test_video_fixture():
    """The function :func:`write_test_video`."""
    return write_test_video


@pytest.fixture(name="write_frame_folder")
def write_frame_folder_fixture():
    """The function :func:`write_frame_folder`."""
    return write_frame_folder


@pytest.fixture(name="audio_seconds")
def audio_seconds_fixture():
    """The function :func:`audio_seconds`."""
    return audio_seconds


@pytest.fixture
def video_with_audio(tmp_path) -> Path:
    """An mp4 of 24 frames, 64x48, at the non-integer rate 2974/100 fps, with AAC stereo audio."""
    return write_test_video(tmp_path / "rainy.mp4", frames=24, size=(64, 48), fps=Fraction(2974, 100))


@pytest.fixture
def frame_folder(tmp_path) -> Path:
    """A folder of 12 PNG frames, 64x48, named f1.png ... f12.png (natural order != string order)."""
    return write_frame_folder(tmp_path / "frames", make_test_frames(12, (64, 48)))


@pytest.fixture
def yard_video() -> Path:
    """The real clip /work/shared/data/real/yard.mp4 (skips the test when it is absent)."""
    if not YARD.is_file():
        pytest.skip(f"{YARD} not available")
    return YARD
