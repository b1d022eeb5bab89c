"""Evaluate methods on deraining data sets: layouts, methods, streaming scoring.

Data-set layouts recognised by :func:`find_dataset` (folder names case-insensitive; each layout
may also sit one level down in ``test/`` or ``testing/``):

- ``rainsyn``  RainSynLight25 / RainSynComplex25: ``{input,processed}/<clip>/<frames>``
- ``nturain``  NTURain: ``<clip>_Rain/`` beside ``<clip>_GT/`` (rain clips without GT are skipped)
- ``generic``  ``input/`` and ``gt/`` (derain's own ``synth`` output adds ``streak/``, ``alpha/``...)

``input``/``gt`` are each a folder of clips (sub-folders of frames or video files, paired by name)
or a single clip of frames. Scores follow :mod:`derain.metrics` (Y and RGB, BasicSR conventions),
averaged over the frames of a clip, then over clips. Frames/s times the method alone: the time
spent inside its generator minus the time it spent waiting for decoded input frames; GT decoding,
scoring and writing are not counted.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np

from derain.baselines import Identity, Method, TemporalMedian
from derain.errors import DerainError
from derain.io import IMAGE_EXTS, VIDEO_EXTS, FrameReader, natural_key, probe
from derain.metrics import CHANNELS, ClipScorer, describe_conventions

__all__ = [
    "ClipPair",
    "Dataset",
    "list_clips",
    "pair_clips",
    "find_dataset",
    "resolve_method",
    "parse_methods",
    "score",
    "evaluate",
]

METRIC_KEYS = tuple(f"{m}_{ch}" for ch in CHANNELS for m in ("psnr", "ssim", "flicker"))


@dataclass(frozen=True)
class ClipPair:
    """One clip to score: rainy input (or prediction) and ground truth, each a video or frame folder."""

    name: str
    input: Path
    gt: Path


@dataclass
class Dataset:
    """A data set found by :func:`find_dataset`: its layout and its clips in natural order."""

    root: Path
    layout: str  # "rainsyn" | "nturain" | "generic"
    clips: list[ClipPair]
    skipped: list[str] = field(default_factory=list)  # clips without ground truth


# -- finding clips -----------------------------------------------------------------------------


def _visible(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name)
    )


def list_clips(folder: str | os.PathLike) -> dict[str, Path] | None:
    """The clips in a folder of clips, by name, in natural order; ``None`` if it is one clip of frames.

    A clip is a sub-folder (of frames) or a video file, named by its stem.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DerainError(f"not found: {folder}")
    if not folder.is_dir():
        return None
    entries = _visible(folder)
    if any(p.is_file() and p.suffix.lower() in IMAGE_EXTS for p in entries):
        return None
    clips: dict[str, Path] = {}
    for p in entries:
        if p.is_dir() or p.suffix.lower() in VIDEO_EXTS:
            name = p.stem if p.is_file() else p.name
            if name in clips:
                raise DerainError(f"two clips named {name!r} in {folder}: {clips[name].name} and {p.name}")
            clips[name] = p
    if not clips:
        raise DerainError(f"no frames, videos or clip folders in {folder}")
    return clips


def pair_clips(pred: str | os.PathLike, gt: str | os.PathLike) -> list[ClipPair]:
    """Pair a prediction with its ground truth: two clips, or two folders of clips matched by name.

    Every prediction clip needs a GT clip of the same name; extra GT clips are ignored.
    """
    pred, gt = Path(pred), Path(gt)
    for p in (pred, gt):
        if not p.exists():
            raise DerainError(f"not found: {p}")
    pc, gc = list_clips(pred), list_clips(gt)
    if pc is None and gc is None:
        return [ClipPair(pred.stem if pred.is_file() else pred.name, pred, gt)]
    if pc is None or gc is None:
        single, many = (pred, gt) if pc is None else (gt, pred)
        raise DerainError(f"{single} is one clip but {many} is a folder of clips; give two of the same kind")
    missing = [name for name in pc if name not in gc]
    if missing:
        raise DerainError(f"no ground truth in {gt} for clip(s) {', '.join(missing[:5])}")
    return [ClipPair(name, path, gc[name]) for name, path in pc.items()]


def _subdirs(folder: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in _visible(folder) if p.is_dir()}


def find_dataset(root: str | os.PathLike) -> Dataset:
    """Detect the layout of a data set (see the module docstring) and list its clips."""
    root = Path(root)
    if not root.exists():
        raise DerainError(f"data set not found: {root}")
    if not root.is_dir():
        raise DerainError(f"data set must be a folder: {root}")
    top = _subdirs(root)
    for base in [root] + [top[n] for n in ("test", "testing") if n in top]:
        dirs = top if base is root else _subdirs(base)
        if "input" in dirs and ("processed" in dirs or "gt" in dirs):
            layout = "rainsyn" if "processed" in dirs else "generic"
            clips = pair_clips(dirs["input"], dirs["processed" if layout == "rainsyn" else "gt"])
            if len(clips) == 1 and list_clips(dirs["input"]) is None:
                clips = [ClipPair(base.name, clips[0].input, clips[0].gt)]  # one clip: name it after DATA
            return Dataset(root, layout, clips)
        rain = {n[: -len("_rain")]: p for n, p in dirs.items() if n.endswith("_rain")}
        gts = {n[: -len("_gt")]: p for n, p in dirs.items() if n.endswith("_gt")}
        if rain and gts:
            clips = [ClipPair(p.name[: -len("_rain")], p, gts[k]) for k, p in rain.items() if k in gts]
            skipped = [p.name for k, p in rain.items() if k not in gts]
            if clips:
                return Dataset(root, "nturain", clips, skipped)
    raise DerainError(
        f"{root}: no known data-set layout (expected input/ with processed/ or gt/, or <clip>_Rain/ "
        "beside <clip>_GT/, possibly inside test/)"
    )


# -- methods -------------------------------------------------------------------------------------


def resolve_method(
    name: str, *, median_window: int | None = None, device: str | None = None, precision: str | None = None
) -> Method:
    """A method by name: ``identity``, ``median`` (``median7``/``median:7``), else a model.

    Models come from ``derain.inference.model_method`` (imported only when needed); ``device``
    and ``precision`` are passed on when given.
    """
    key = name.strip().lower()
    if key in ("identity", "input"):
        return Identity()
    m = re.fullmatch(r"median:?(\d+)?", key)
    if m:
        return TemporalMedian(window=int(m.group(1)) if m.group(1) else (median_window or 5))
    try:
        from derain.inference import model_method
    except ImportError:
        raise DerainError(f"unknown method: {name}") from None
    opts = {k: v for k, v in (("device", device), ("precision", precision)) if v is not None}
    return model_method(name.strip(), **opts)


def parse_methods(spec: str | Sequence[str]) -> list[str]:
    """``"identity, median:7"`` -> ``["identity", "median:7"]``; an empty list is an error."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise DerainError("no methods given")
    return names


class _Timed(Iterator[np.ndarray]):
    """Wraps an iterator and adds up the seconds spent in its ``__next__``."""

    def __init__(self, it: Iterable[np.ndarray]) -> None:
        self._it = iter(it)
        self.seconds = 0.0
        self.threads: set[int] = set()  # who called: a method may prefetch input in a thread

    def __next__(self) -> np.ndarray:
        self.threads.add(threading.get_ident())
        t0 = time.perf_counter()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - t0


# -- scoring ---------------------------------------------------------------------------------------


def _check_pair(clip: ClipPair, *, what: str = "input") -> int | None:
    """Compare sizes and (when known) frame counts before decoding; return the frame count."""
    a, b = probe(clip.input), probe(clip.gt)
    if (a.width, a.height) != (b.width, b.height):
        raise DerainError(
            f"clip {clip.name}: {what} is {a.width}x{a.height} but ground truth is {b.width}x{b.height}"
        )
    if a.num_frames is not None and b.num_frames is not None and a.num_frames != b.num_frames:
        raise DerainError(
            f"clip {clip.name}: {what} has {a.num_frames} frames but ground truth has {b.num_frames}"
        )
    return a.num_frames if a.num_frames is not None else b.num_frames


def _score_stream(
    clip: ClipPair,
    frames: Iterable[np.ndarray],
    scorer: ClipScorer,
    *,
    what: str,
    count_rest: bool = False,
    on_frame: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> None:
    """Feed ``frames`` (for ``clip.input``) and the GT stream to ``scorer`` pair by pair."""
    end = object()
    pred_it = iter(frames)
    with FrameReader(clip.gt) as gt_reader:
        gt_it = iter(gt_reader)
        for i, (pred, gt) in enumerate(zip_longest(pred_it, gt_it, fillvalue=end)):
            if pred is end:
                n_gt = i + 1 + sum(1 for _ in gt_it)
                raise DerainError(f"clip {clip.name}: {what} has {i} frames but ground truth has {n_gt}")
            if gt is end:
                # Count the rest of a file; a method's output is not run on just for a message.
                n_pred = str(i + 1 + sum(1 for _ in pred_it)) if count_rest else f"more than {i}"
                raise DerainError(f"clip {clip.name}: {what} has {n_pred} frames but ground truth has {i}")
            scorer.add(pred, gt)
            if on_frame is not None:
                on_frame(i, pred, gt)
    if scorer.seen <= 2 * scorer.drop_ends:
        raise DerainError(
            f"clip {clip.name} has {scorer.seen} frames: too few to drop {scorer.drop_ends} at each end"
        )


def _clip_means(rows: list[dict], keys: Sequence[str]) -> dict[str, float]:
    """Mean over clips of each key (a mean of per-clip means, as the field reports)."""
    out: dict[str, float] = {}
    for k in keys:
        vals = [r[k] for r in rows if not (isinstance(r[k], float) and math.isnan(r[k]))]
        out[k] = float(np.mean(vals)) if vals else math.nan
    return out


def score(
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    *,
    channel: str = "y",
    crop_border: int = 0,
    drop_ends: int = 0,
    per_frame: bool = False,
) -> dict:
    """Score predictions against ground truth (what ``derain score`` prints).

    ``pred``/``gt``: two clips (video or frame folder), or two folders of clips paired by name.
    Returns ``{"pred", "gt", "conventions", "options", "clips": [per-clip rows], "mean": {...}}``
    (plus ``"per_frame"`` rows when asked); a row holds ``frames``, ``psnr_<ch>``, ``ssim_<ch>``,
    ``flicker_<ch>`` (0..255 scale). ``channel`` is ``"y"``, ``"rgb"`` or ``"both"``.
    """
    channels = CHANNELS if channel == "both" else (channel,)
    pairs = pair_clips(pred, gt)
    for clip in pairs:  # all sizes and counts checked before the first frame is scored
        _check_pair(clip, what="prediction")
    rows, frame_rows = [], []
    for clip in pairs:
        scorer = ClipScorer(channels=channels, crop_border=crop_border, drop_ends=drop_ends)
        with FrameReader(clip.input) as reader:
            _score_stream(clip, reader, scorer, what="prediction", count_rest=True)
        rows.append({"clip": clip.name, **scorer.summary()})
        if per_frame:
            frame_rows += [{"clip": clip.name, **r} for r in scorer.rows()]
    keys = [k for k in rows[0] if k not in ("clip", "frames")]
    mean = {"clips": len(rows), "frames": sum(r["frames"] for r in rows), **_clip_means(rows, keys)}
    result = {
        "pred": str(pred),
        "gt": str(gt),
        "conventions": describe_conventions(crop_border=crop_border),
        "options": {"channel": channel, "crop_border": crop_border, "drop_ends": drop_ends},
        "clips": rows,
        "mean": mean,
    }
    if per_frame:
        result["per_frame"] = frame_rows
    return result


def _middle_frame_count(clip: ClipPair, known: int | None) -> int:
    if known is not None:
        return known
    with FrameReader(clip.gt) as reader:  # a container without a frame count: count once
        return sum(1 for _ in reader)


def evaluate(
    data_root: str | os.PathLike,
    methods: Sequence[str | Method] = ("identity", "median"),
    *,
    out_dir: str | os.PathLike | None = None,
    drop_ends: int = 0,
    crop_border: int = 0,
    max_clips: int | None = None,
    overwrite: bool = False,
    median_window: int | None = None,
    device: str | None = None,
    precision: str | None = None,
    crops: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Run every method over every clip of a data set and score it; write a report if ``out_dir``.

    Streaming: each method's output frames are scored as they come, beside the GT stream (input
    and GT are decoded again for each method); only the middle frame of each stream is kept,
    and only until it is cut to the before/after crop. Returns the report dict
    (also ``report.json``): ``clips`` rows (clip, method, frames, metrics, fps) and ``mean`` rows
    per method (metrics averaged over clips, fps = all frames / all method time).
    """
    from derain import report  # matplotlib is only needed here

    if out_dir is not None:
        report.check_out_dir(out_dir, overwrite=overwrite)
    if max_clips is not None and max_clips < 1:
        raise DerainError(f"--max-clips must be >= 1, got {max_clips}")
    dataset = find_dataset(data_root)
    clips = dataset.clips[:max_clips] if max_clips else dataset.clips
    resolved = [
        m
        if isinstance(m, Method)
        else resolve_method(m, median_window=median_window, device=device, precision=precision)
        for m in methods
    ]
    names = [m.name for m in resolved]
    if not names:
        raise DerainError("no methods given")
    if len(set(names)) != len(names):
        raise DerainError(f"a method is listed twice: {', '.join(names)}")
    counts = [_check_pair(clip) for clip in clips]
    log = log or (lambda _msg: None)

    rows: list[dict] = []
    crop_panels: dict[str, dict | None] = {}
    for ci, (clip, count) in enumerate(zip(clips, counts, strict=True)):
        mid = _middle_frame_count(clip, count) // 2 if crops and out_dir is not None else -1
        kept: dict[str, np.ndarray] = {}
        for method in resolved:
            scorer = ClipScorer(channels=CHANNELS, crop_border=crop_border, drop_ends=drop_ends)
            seconds = _run_method(clip, method, scorer, mid=mid, kept=kept)
            row = {"clip": clip.name, "method": method.name, **scorer.summary()}
            row["seconds"] = seconds
            row["fps"] = scorer.seen / seconds
            rows.append(row)
            log(
                f"[{ci + 1}/{len(clips)}] {clip.name} {method.name}: PSNR-Y {row['psnr_y']:.2f} "
                f"SSIM-Y {row['ssim_y']:.4f} ({row['fps']:.1f} frames/s)"
            )
        crop_panels[clip.name] = report.cut_crops(kept, crop_border=crop_border)  # frees the frames

    means = []
    for name in names:
        mine = [r for r in rows if r["method"] == name]
        seconds = sum(r["seconds"] for r in mine)
        frames = sum(r["frames"] for r in mine)
        means.append(
            {"method": name, "clips": len(mine), "frames": frames, **_clip_means(mine, METRIC_KEYS)}
            | {"fps": sum(r["fps"] * r["seconds"] for r in mine) / seconds}
        )
    result = {
        "data": str(data_root),
        "layout": dataset.layout,
        "skipped_clips": dataset.skipped,
        "conventions": describe_conventions(crop_border=crop_border),
        "options": {"crop_border": crop_border, "drop_ends": drop_ends, "max_clips": max_clips},
        "methods": names,
        "clips": [{k: v for k, v in r.items() if k != "seconds"} for r in rows],
        "mean": means,
    }
    if out_dir is not None:
        report.write_report(result, out_dir, crops=crop_panels, overwrite=overwrite)
    return result


def _run_method(clip: ClipPair, method: Method, scorer: ClipScorer, *, mid: int, kept: dict) -> float:
    """Score ``method`` on ``clip``; keep frame ``mid`` of each stream in ``kept``; return method seconds."""

    def keep(i: int, pred: np.ndarray, gt: np.ndarray) -> None:
        if i == mid:
            kept[method.name] = pred
            kept.setdefault("ground truth", gt)

    def tap(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for i, frame in enumerate(frames):
            if i == mid:
                kept.setdefault("input", frame)
            yield frame

    with FrameReader(clip.input) as reader:
        inp = _Timed(tap(reader))
        out = _Timed(method(inp))
        _score_stream(clip, out, scorer, what=f"output of {method.name}", on_frame=keep)
    # The method pulls its input inside its own __next__: subtract the decoding time, unless it
    # decoded in another thread (then decoding overlapped and did not add to the method's time).
    if inp.threads <= out.threads:
        return max(out.seconds - inp.seconds, 1e-9)
    return max(out.seconds, 1e-9)
