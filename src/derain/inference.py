"""The streaming engine every model runs through: frames in, derained frames out.

A model only implements the streaming protocol (``stream_init`` / ``stream_push`` /
``stream_flush``: recurrent state or a temporal window carried across chunks, see the models);
this engine owns everything else:

- device and precision (bf16 autocast + channels_last on capable CPUs, fp16 on CUDA);
- spatial tiling with overlap for frames too large to process whole: every tile is its own
  stream (its own recurrent state / window), and overlapping tiles are blended with linear
  ramps, so peak memory is bounded by the tile size, not the frame size;
- the decode -> model -> encode pipeline for files (:func:`derain_video`): decoding and encoding
  run in their own threads with bounded queues, so they overlap with compute and memory stays
  flat however long the video is.

Output frames are exactly as many as input frames, in the same order.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import math
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from derain import runtime
from derain.errors import DerainError


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """Blend weights along one axis: rising over the overlap except at the frame's own edges."""
    w = torch.ones(length)
    if overlap > 0:
        ramp = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if not at_start:
            w[:overlap] = ramp
        if not at_end:
            w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


@dataclass
class _Tile:
    y: int
    x: int
    h: int
    w: int
    weight: torch.Tensor  # (h, w)
    state: dict


class Derainer:
    """Derain a stream of RGB uint8 frames with a model; a *method* in the sense of derain.evaluate.

    Args:
        model: an ``nn.Module`` with the streaming protocol, or a shipped name / checkpoint path.
        device: ``auto`` | ``cpu`` | ``cuda``.
        precision: ``auto`` | ``fp32`` | ``bf16`` | ``fp16``.
        tile: tile side in pixels; ``0`` picks one from the model's ``max_tile_pixels`` budget.
        overlap: pixels shared by neighbouring tiles (blended).
        chunk: frames pushed to the model per call. Outputs are the same for any chunk; 1 is
            fastest overall: 4 gained 4% at 640x360 (``python -m benchmarks.bench_pipeline``) but
            lost 15-35% at 720p/1080p and took 4K from 2.4 to 4.1 GB (docs/benchmarks.md).

    Call it with an iterable of ``(H, W, 3)`` uint8 frames; it yields as many derained frames.
    """

    def __init__(
        self,
        model: nn.Module | str = "rrgnet",
        *,
        device: str = "auto",
        precision: str = "auto",
        tile: int = 0,
        overlap: int = 32,
        chunk: int = 1,
        threads: int | None = None,
    ) -> None:
        from derain.models import load_model

        self.device = runtime.resolve_device(device)
        self.precision = runtime.resolve_precision(precision, self.device)
        if self.device.type == "cpu":
            runtime.set_cpu_threads(threads)
        if not isinstance(model, nn.Module):
            self.name = str(model)
            model = load_model(model)
        else:
            self.name = getattr(model, "arch", type(model).__name__)
            if self.precision != "fp32":
                model = copy.deepcopy(model)  # the weight cast below must not change the caller's model
        model = runtime.prepare_model(model.eval(), self.device)
        self.model = runtime.cast_for_inference(model, self.precision)
        self.tile, self.overlap, self.chunk = tile, overlap, max(1, chunk)

    def _tiles(self, height: int, width: int) -> list[_Tile]:
        tile = self.tile
        if tile <= 0:
            budget = getattr(self.model, "max_tile_pixels", 2_200_000)
            tile = max(height, width) if height * width <= budget else int(math.sqrt(budget))
        if tile < max(height, width) and tile <= self.overlap * 2:
            raise DerainError(f"tile size {tile} must be larger than twice the overlap ({self.overlap})")
        tiles = []
        ys, xs = _tile_starts(height, tile, self.overlap), _tile_starts(width, tile, self.overlap)
        for y in ys:
            for x in xs:
                h, w = min(tile, height), min(tile, width)
                wy = _ramp(h, self.overlap, y == 0, y + h >= height)
                wx = _ramp(w, self.overlap, x == 0, x + w >= width)
                tiles.append(
                    _Tile(y, x, h, w, (wy[:, None] * wx[None, :]).to(self.device), self.model.stream_init())
                )
        return tiles

    def _to_tensor(self, frames: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(frames)).to(self.device, non_blocking=True)
        return x.permute(0, 3, 1, 2).float().div_(255).unsqueeze(0)  # (1, t, 3, H, W)

    def _to_frames(self, y: torch.Tensor) -> list[np.ndarray]:
        y = y[0].float().clamp_(0, 1).mul_(255).round_().to(torch.uint8)
        return list(y.permute(0, 2, 3, 1).contiguous().cpu().numpy())

    def _push(
        self, tiles: list[_Tile], clip: torch.Tensor | None, size: tuple[int, int]
    ) -> torch.Tensor | None:
        """Push ``clip`` (or flush when None) through every tile; blend what comes out."""
        outs = []
        for t in tiles:
            if clip is None:
                y = self.model.stream_flush(t.state)
            else:
                y, t.state = self.model.stream_push(clip[..., t.y : t.y + t.h, t.x : t.x + t.w], t.state)
            outs.append(y)
        if outs[0] is None:
            return None
        if len(tiles) == 1:
            return outs[0]
        n_out = outs[0].shape[1]
        acc = torch.zeros(1, n_out, 3, *size, device=self.device)
        norm = torch.zeros(*size, device=self.device)
        for t, y in zip(tiles, outs, strict=True):
            acc[..., t.y : t.y + t.h, t.x : t.x + t.w] += y.float() * t.weight
            norm[t.y : t.y + t.h, t.x : t.x + t.w] += t.weight
        return acc / norm

    def _step(self, tiles: list[_Tile], pending: list[np.ndarray] | None, size: tuple[int, int]) -> list:
        """Run one chunk (``None``: flush) and return finished uint8 frames.

        The inference/autocast contexts cover only this call: a generator that kept them open across
        ``yield`` would also impose them on the caller's own code between frames.
        """
        with torch.inference_mode(), runtime.autocast(self.device, self.precision):
            y = self._push(tiles, None if pending is None else self._to_tensor(pending), size)
            return [] if y is None else self._to_frames(y)

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        tiles: list[_Tile] | None = None
        size: tuple[int, int] | None = None
        pending: list[np.ndarray] = []
        for frame in frames:
            if size is None:
                size = frame.shape[:2]
                tiles = self._tiles(*size)
            elif frame.shape[:2] != size:
                raise DerainError(f"frame size changed mid-stream: {frame.shape[1]}x{frame.shape[0]}")
            pending.append(frame)
            if len(pending) >= self.chunk:
                yield from self._step(tiles, pending, size)
                pending = []
        if size is None:
            return
        if pending:
            yield from self._step(tiles, pending, size)
        yield from self._step(tiles, None, size)


def model_method(name: str, *, device: str = "auto", precision: str = "auto", **kwargs) -> Derainer:
    """A shipped model or checkpoint as a streaming method for ``derain eval``."""
    return Derainer(name, device=device, precision=precision, **kwargs)


def derain_frames(
    frames: Iterable[np.ndarray],
    *,
    model: nn.Module | str = "rrgnet",
    device: str = "auto",
    precision: str = "auto",
    **kwargs,
) -> Iterator[np.ndarray]:
    """Derain a stream of ``(H, W, 3)`` uint8 RGB frames; yields as many derained frames.

    For embedding derain in your own pipeline: frames are consumed lazily, memory stays flat.
    """
    return Derainer(model, device=device, precision=precision, **kwargs)(frames)


# -- files --------------------------------------------------------------------------------------

_END = object()


def _producer(iterable: Iterable, q: queue.Queue, stop: threading.Event) -> None:
    """Feed ``iterable`` into ``q``; exceptions travel through the queue to the consumer."""
    try:
        for item in iterable:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        q.put(_END)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
        q.put(exc)


def threaded(iterable: Iterable, *, maxsize: int = 8) -> Iterator:
    """Iterate ``iterable`` in a background thread, ``maxsize`` items ahead (decode/compute overlap)."""
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()
    worker = threading.Thread(target=_producer, args=(iterable, q, stop), daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


class _WriterThread:
    """Encode frames in a background thread so encoding overlaps with the model."""

    def __init__(self, writer, maxsize: int = 8) -> None:
        self.writer = writer
        self.q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is None:
                try:
                    self.writer.write(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised by put/finish
                    self.error = exc

    def put(self, frame: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(frame)

    def finish(self) -> None:
        self.q.put(_END)
        self.thread.join()
        if self.error is not None:
            raise self.error


@dataclass
class RunSummary:
    """What :func:`derain_video` did."""

    input: str
    output: str
    frames: int
    width: int
    height: int
    fps: str
    seconds: float
    stopped_early: str | None = None

    @property
    def frames_per_second(self) -> float:
        return self.frames / max(self.seconds, 1e-9)

    def line(self) -> str:
        msg = (
            f"wrote {self.output}: {self.frames} frames {self.width}x{self.height} at {self.fps} fps "
            f"in {self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s)"
        )
        return msg if self.stopped_early is None else f"{msg}; input truncated: {self.stopped_early}"


def default_output(src) -> Path:
    """``<name>.derained.mp4`` next to the input (``.png`` for a single image)."""
    from derain.io import IMAGE_EXTS

    src = Path(src)
    if src.is_dir():
        return src.parent / f"{src.name}.derained.mp4"
    if src.suffix.lower() in IMAGE_EXTS:
        return src.with_name(f"{src.stem}.derained.png")
    return src.with_name(f"{src.stem}.derained.mp4")


def _time_to_frame(seconds: float | None, fps, name: str) -> int | None:
    if seconds is None:
        return None
    if seconds < 0:
        raise DerainError(f"--{name} must be >= 0 seconds, got {seconds}")
    return int(round(seconds * float(fps)))


def derain_video(
    src,
    dst=None,
    *,
    model: nn.Module | str | Derainer = "rrgnet",
    device: str = "auto",
    precision: str = "auto",
    side_by_side: bool = False,
    start: float | None = None,
    end: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    crf: int = 18,
    tile: int = 0,
) -> RunSummary:
    """Derain a video file, frame folder or image into ``dst`` (default: :func:`default_output`).

    Streams decode -> model -> encode with flat memory; keeps the frame count, the exact frame
    rate, the display orientation and the audio (trimmed to ``start``/``end`` seconds). A truncated
    input is processed up to the last decodable frame and reported in the summary. The output is
    written under a temporary name and renamed when complete.
    """
    from derain.io import FrameReader, FrameWriter, probe

    src = Path(src)
    dst = default_output(src) if dst is None else Path(dst)
    info = probe(src)
    first, last = _time_to_frame(start, info.fps, "start") or 0, _time_to_frame(end, info.fps, "end")
    if last is not None and last <= first:
        raise DerainError(f"--end ({end} s) must be after --start ({start or 0} s)")
    derainer = (
        model
        if isinstance(model, Derainer)
        else Derainer(model, device=device, precision=precision, tile=tile)
    )
    names = info.frame_names[first:last] if info.frame_names else None
    reader = FrameReader(src, start=first, end=last, strict=False)
    writer = FrameWriter(
        dst,
        fps=info.fps,
        audio_from=src if info.has_audio else None,
        audio_start=start or 0.0,
        audio_end=end,
        crf=crf,
        frame_names=names,
        overwrite=overwrite,
        forbid=[src],
    )
    from tqdm import tqdm

    t0 = time.perf_counter()
    count = 0
    with (
        reader,
        writer,
        tqdm(
            total=reader.expected_frames,
            unit="frame",
            disable=not progress,
            desc=src.name,
            dynamic_ncols=True,
            file=sys.stderr,
        ) as bar,
    ):
        inputs = contextlib.closing(threaded(reader))
        with inputs as frames:
            held: collections.deque = collections.deque()
            if side_by_side:
                frames = _remember(frames, held)
            sink = _WriterThread(writer)
            try:
                for out in derainer(frames):
                    sink.put(np.concatenate([held.popleft(), out], axis=1) if side_by_side else out)
                    count += 1
                    bar.update(1)
            finally:
                sink.finish()
        if count == 0:
            raise DerainError(f"no frames could be decoded from {src}")
    return RunSummary(
        str(src),
        str(dst),
        count,
        info.width * (2 if side_by_side else 1),
        info.height,
        str(info.fps),
        time.perf_counter() - t0,
        reader.stopped_early,
    )


def _remember(frames: Iterable[np.ndarray], held: collections.deque) -> Iterator[np.ndarray]:
    """Pass frames through, keeping each until its derained twin comes out (side-by-side)."""
    for f in frames:
        held.append(f)
        yield f
