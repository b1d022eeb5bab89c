"""Streaming, atomic writers: videos (PyAV, with the source audio), PNG folders and single images."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from derain.errors import DerainError
from derain.io.atomic import check_output, commit, remove_path, temp_path_for
from derain.io.common import SIZE_TAG, _one_line, check_frame, output_kind, write_image
from derain.io.readers import as_fraction

_MP4 = {"aac", "mp3", "alac", "ac3", "eac3"}
# Audio codecs each container takes as is (packets are copied); anything else is re-encoded.
_REMUX_OK = {
    ".mp4": _MP4,
    ".m4v": _MP4,
    ".mov": _MP4 | {"pcm_s16le"},
    ".mkv": _MP4 | {"opus", "vorbis", "flac", "pcm_s16le", "pcm_f32le"},
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "ac3", "pcm_s16le"},
}
_AUDIO_ENCODER = {".webm": "libopus", ".avi": "libmp3lame"}  # else "aac"
_AUDIO_LEAD = 0.5  # seconds of audio muxed ahead of the last video frame, for interleaving


class _AudioTrack:
    """The first audio stream of ``source`` copied into ``out`` alongside the video.

    Packets are remuxed untouched when the whole track is kept and the container accepts the
    codec; otherwise they are decoded, cut to ``[start, end)`` seconds (relative to the source's
    first video frame), resampled and re-encoded. Output audio time 0 is output video time 0.
    """

    def __init__(self, out, suffix: str, source, start: float, end: float | None):
        self.out_container = out
        self.src = av.open(str(source), metadata_errors="ignore")
        ins = self.src.streams.audio[0]
        video = self.src.streams.video
        first = video[0].start_time if video and video[0].start_time is not None else None
        self.offset = float(first * video[0].time_base) if first is not None else 0.0
        self.start, self.end = max(0.0, float(start)), (None if end is None else float(end))
        self.remux = self.start == 0 and self.end is None and ins.codec_context.name in _REMUX_OK[suffix]
        if self.remux:
            self.stream = out.add_stream_from_template(ins)
        else:
            name = _AUDIO_ENCODER.get(suffix, "aac")
            rate = ins.codec_context.sample_rate or 48000
            rates = av.Codec(name, "w").audio_rates
            if rates and rate not in rates:
                rate = min(rates, key=lambda r: (r < rate, abs(r - rate)))
            channels = len(ins.codec_context.layout.channels)
            layout = ins.codec_context.layout.name if name == "aac" or channels <= 2 else "stereo"
            self.stream = out.add_stream(name, rate=rate, layout=layout)
            self.stream.bit_rate = 192000 if name == "aac" else 128000
        self.packets = self.src.demux(ins)
        self.pending = None
        self.done = False
        self.resampler = None
        self.samples_out: int | None = None

    def pump(self, until: float | None) -> None:
        """Mux source audio up to output time ``until`` seconds (``None``: to the end)."""
        while not self.done:
            packet, self.pending = self.pending, None
            if packet is None:
                try:
                    packet = next(self.packets, None)
                except (av.FFmpegError, OSError):  # damaged source audio: keep what we have
                    packet = None
                if packet is None:
                    self._finish()
                    return
            stamp = packet.pts if packet.pts is not None else packet.dts
            when = None if stamp is None else float(stamp * packet.time_base) - self.offset - self.start
            if until is not None and when is not None and when > until:
                self.pending = packet
                return
            if self.remux:
                if stamp is None:  # the demuxer's empty end-of-stream packet
                    continue
                shift = round(self.offset / packet.time_base)
                packet.pts = None if packet.pts is None else packet.pts - shift
                packet.dts = None if packet.dts is None else packet.dts - shift
                packet.stream = self.stream
                self.out_container.mux(packet)
                continue
            try:
                frames = packet.decode()  # the end-of-stream packet flushes the decoder
            except (av.FFmpegError, OSError):
                continue
            for frame in frames:
                self._encode(frame)
            if self.end is not None and when is not None and when + self.start >= self.end:
                self._finish()

    def _encode(self, frame) -> None:
        rate = frame.sample_rate
        t0 = float(frame.pts * frame.time_base) - self.offset if frame.pts is not None else None
        if t0 is None:  # no timestamps: count samples
            t0 = (self.samples_out or 0) / rate + self.start
        a = max(0, math.ceil((self.start - t0) * rate - 1e-6))
        b = frame.samples if self.end is None else min(frame.samples, round((self.end - t0) * rate))
        if b <= a:
            return
        if (a, b) != (0, frame.samples):
            arr = frame.to_ndarray()
            ch = 1 if frame.format.is_planar else len(frame.layout.channels)
            arr = np.ascontiguousarray(arr[:, a * ch : b * ch])
            cut = av.AudioFrame.from_ndarray(arr, format=frame.format.name, layout=frame.layout.name)
            cut.sample_rate = rate
            frame = cut
        cc = self.stream.codec_context
        if self.resampler is None:
            self.resampler = av.AudioResampler(
                format=cc.format.name,
                layout=cc.layout.name,
                rate=cc.sample_rate,
                frame_size=cc.frame_size or None,
            )
            self.samples_out = max(0, round((t0 + a / rate - self.start) * cc.sample_rate))
        frame.pts = None
        self._mux_frames(self.resampler.resample(frame))

    def _mux_frames(self, frames) -> None:
        for out in frames:
            out.pts = self.samples_out
            out.time_base = Fraction(1, self.stream.codec_context.sample_rate)
            self.samples_out += out.samples
            for packet in self.stream.encode(out):
                self.out_container.mux(packet)

    def _finish(self) -> None:
        self.done = True
        if not self.remux:
            if self.resampler is not None:
                self._mux_frames(self.resampler.resample(None))
            for packet in self.stream.encode(None):
                self.out_container.mux(packet)

    def close(self) -> None:
        self.src.close()


class FrameWriter:
    """Write ``(H, W, 3)`` uint8 RGB frames to a video, a PNG folder or one image, atomically.

    The kind follows :func:`output_kind`: ``.mp4/.m4v/.mov/.avi`` are H.264 (libx264, yuv420p,
    ``crf``, preset ``superfast``: 9 core-ms per 360p frame against 15 for ``veryfast``, and no
    larger at crf 18 on our test clip), ``.mkv`` is H.264 or, with ``lossless=True``, FFV1 in
    ``bgr0`` (exact RGB); ``.webm`` is VP9 (``crf`` on VP9's 0-63 scale); an image extension
    writes one image; any other path is a folder of PNGs named after ``frame_names`` (stem kept,
    ``.png`` extension) or ``00000.png, 00001.png, ...``. The stream rate is exactly ``fps`` (a
    Fraction); mkv/webm store millisecond timestamps, so unusual rates come back only
    approximately there.

    H.264 needs even sizes: an odd width/height is padded by repeating the last column/row and
    the true size is stored in the container metadata (``derain_size``, kept by mp4/mov/mkv),
    which :class:`~derain.io.FrameReader` uses to crop back; other players show the padded edge.
    VP9, FFV1 and PNG keep odd sizes as they are.

    ``audio_from``: a video whose first audio track is copied (packets remuxed when the output
    container accepts the codec, else re-encoded to AAC / Opus for webm / MP3 for avi). With
    ``audio_start``/``audio_end`` (seconds from the source's first video frame) only that span is
    kept (re-encoded). Everything is written under a hidden temporary name in the output folder
    and renamed by :meth:`close`; :meth:`abort` (or an exception in a ``with`` block) removes it.
    ``forbid``: input paths the output must not be (``audio_from`` is always included).
    """

    def __init__(
        self,
        path,
        *,
        fps,
        audio_from=None,
        audio_start: float = 0.0,
        audio_end: float | None = None,
        crf: int = 18,
        lossless: bool = False,
        frame_names=None,
        overwrite: bool = False,
        forbid=(),
    ):
        self.path = Path(path)
        self.kind = output_kind(self.path)
        self.suffix = self.path.suffix.lower()
        self.fps = as_fraction(fps)
        self.overwrite = overwrite
        check_output(self.path, overwrite=overwrite, forbid=[*forbid, audio_from])
        if lossless and self.kind == "video" and self.suffix != ".mkv":
            raise DerainError(f"lossless video needs a .mkv output (FFV1), not {self.path.name}")
        if lossless and self.kind == "image" and self.suffix in (".jpg", ".jpeg"):
            raise DerainError(f"lossless output cannot be JPEG: {self.path.name}")
        if audio_from is not None and not Path(audio_from).exists():
            raise DerainError(f"input not found: {audio_from}")
        # Only video outputs carry audio, and only a file (not a frame folder) can provide it.
        self.audio_from = audio_from if self.kind == "video" and Path(audio_from or "").is_file() else None
        self.audio_span = (audio_start, audio_end)
        self.crf, self.lossless = int(crf), lossless
        self.frame_names = None if frame_names is None else list(frame_names)
        self.frames_written = 0
        self._shape: tuple[int, int] | None = None
        self._container = self._stream = self._audio = None
        self._names_used: set[str] = set()
        self._tmp = temp_path_for(self.path, folder=self.kind == "folder")
        self._finished = False
        if self.kind == "folder":
            self._tmp.mkdir()

    # -- video ----------------------------------------------------------------------------------
    def _open_video(self, height: int, width: int) -> None:
        copts = (
            {"movflags": "+faststart+use_metadata_tags"} if self.suffix in (".mp4", ".m4v", ".mov") else {}
        )
        self._container = container = av.open(str(self._tmp), "w", options=copts)
        if self.lossless:
            codec, pix, opts = "ffv1", "bgr0", {"level": "3", "slicecrc": "1"}
        elif self.suffix == ".webm":
            codec, pix = "libvpx-vp9", "yuv420p"
            opts = {"crf": str(self.crf), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        else:
            codec, pix, opts = "libx264", "yuv420p", {"preset": "superfast", "crf": str(self.crf)}
        self._pad = (height % 2, width % 2) if codec == "libx264" else (0, 0)
        stream = self._stream = container.add_stream(codec, rate=self.fps, options=opts)
        stream.width, stream.height = width + self._pad[1], height + self._pad[0]
        stream.pix_fmt = pix
        stream.time_base = 1 / self.fps
        if any(self._pad):
            container.metadata[SIZE_TAG] = f"{width}x{height}"
        if self.audio_from is not None:
            with av.open(str(self.audio_from), metadata_errors="ignore") as src:
                has_audio = bool(src.streams.audio)
            if has_audio:
                self._audio = _AudioTrack(container, self.suffix, self.audio_from, *self.audio_span)
        container.start_encoding()

    def _write_video(self, frame: np.ndarray) -> None:
        if any(self._pad):
            frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.frames_written
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.pump(float((self.frames_written + 1) / self.fps) + _AUDIO_LEAD)

    # -- public ---------------------------------------------------------------------------------
    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (all frames must have the same size)."""
        if self._finished:
            raise DerainError(f"writer for {self.path} is already closed")
        frame = check_frame(frame, self._shape)
        try:
            if self._shape is None:
                self._shape = frame.shape[:2]
                if self.kind == "video":
                    self._open_video(*self._shape)
            if self.kind == "video":
                self._write_video(frame)
            elif self.kind == "image":
                if self.frames_written:
                    raise DerainError(
                        f"an image output holds one frame: {self.path} (use a folder or a video)"
                    )
                write_image(self._tmp, frame)
            else:
                write_image(self._tmp / self._frame_name(), frame)
        except (av.FFmpegError, OSError) as exc:
            self.abort()
            raise DerainError(f"cannot write {self.path}: {_one_line(exc)}") from None
        self.frames_written += 1

    def _frame_name(self) -> str:
        i = self.frames_written
        if self.frame_names is None:
            return f"{i:05d}.png"
        if i >= len(self.frame_names):
            raise DerainError(f"more frames than frame names ({len(self.frame_names)}) for {self.path}")
        name = Path(self.frame_names[i]).stem + ".png"
        if name in self._names_used:
            raise DerainError(f"two frames would both be written as {name} in {self.path}")
        self._names_used.add(name)
        return name

    def close(self) -> None:
        """Finish the file and rename it onto the final path. Zero frames: DerainError, nothing left."""
        if self._finished:
            return
        if self.frames_written == 0:
            self.abort()
            raise DerainError(f"no frames to write to {self.path}")
        try:
            if self._container is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:
                    self._audio.pump(None)
                self._close_container()
            commit(self._tmp, self.path, overwrite=self.overwrite)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (av.FFmpegError, OSError)):
                raise DerainError(f"cannot write {self.path}: {_one_line(exc)}") from None
            raise
        self._finished = True

    def _close_container(self) -> None:
        container, self._container = self._container, None
        audio, self._audio = self._audio, None
        try:
            if container is not None:
                container.close()
        finally:
            if audio is not None:
                audio.close()

    def abort(self) -> None:
        """Stop and delete the temporary output (idempotent); the final path is never touched."""
        if self._finished:
            return
        self._finished = True
        try:
            self._close_container()
        except Exception:  # noqa: BLE001 - a broken container is being thrown away anyway
            pass
        remove_path(self._tmp)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
