"""Baseline methods: identity and a streaming temporal median.

A *method* (see ``docs/architecture.md``) maps a stream of frames to a stream of the same
length: call it with any iterable of ``(H, W, 3)`` uint8 RGB frames and iterate the result.
Methods are lazy and streaming: they pull input frames only as needed and hold at most what
their temporal window needs, so a clip of any length runs in constant memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from derain.errors import DerainError

__all__ = ["Method", "Identity", "TemporalMedian"]


@runtime_checkable
class Method(Protocol):
    """What evaluate and run need of a method: a ``name`` and frames in -> frames out.

    Subclass it (as the baselines do) or just provide the two members (a model wrapper from
    ``derain.inference.model_method`` does). The output has exactly one frame per input frame,
    in order; frames are ``(H, W, 3)`` uint8 RGB.
    """

    name: str

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...


class Identity(Method):
    """Returns the input unchanged: the score of doing nothing (the "rainy input" row)."""

    def __init__(self) -> None:
        self.name = "identity"

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        yield from frames


class TemporalMedian(Method):
    """Per-pixel median over a centred window of ``window`` frames.

    Rain streaks are short-lived and bright, so in a static scene the median over time removes
    them; moving objects blur, which is what makes it a baseline. Output frame ``t`` is the
    median of input frames ``max(0, t - r) .. min(T - 1, t + r)`` with ``r = window // 2``: at
    the ends of a clip the window shrinks to the frames that exist (no mirroring or padding).
    With an even number of frames in the window, the two middle values are averaged and
    rounded half up. Output lags input by ``r`` frames; at most ``window`` frames are held.

    Args:
        window: odd number of frames, >= 1 (1 is the identity).
    """

    def __init__(self, *, window: int = 5) -> None:
        if window < 1 or window % 2 == 0:
            raise DerainError(f"the median window must be an odd number >= 1, got {window}")
        self.window = window
        self.name = "median" if window == 5 else f"median{window}"

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        r = self.window // 2
        buf: deque[np.ndarray] = deque(maxlen=self.window)  # the last `window` frames read
        n = 0  # frames read so far
        for frame in frames:
            buf.append(frame)
            n += 1
            t = n - 1 - r  # the frame whose window just became complete
            if t >= 0:
                # buf holds frames max(0, t - r) .. t + r, exactly its window.
                yield _median(buf)
        # The last r frames (or all of a clip shorter than r + 1): their windows run off the end.
        # buf holds frames n - len(buf) .. n - 1; frame t needs those from max(0, t - r).
        first = n - len(buf)
        for t in range(max(0, n - r), n):
            yield _median(list(buf)[max(0, t - r) - first :])


def _median(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Per-pixel median of ``k`` frames ``(H, W, 3)`` uint8 -> ``(H, W, 3)`` uint8."""
    frames = list(frames)
    shape = frames[0].shape
    if any(f.shape != shape for f in frames):
        raise DerainError(f"frame sizes change within the clip: {sorted({f.shape for f in frames})}")
    if len(frames) == 1:
        return frames[0]
    # Sorting k values per pixel beats np.median (which copies and partitions in float).
    s = np.sort(np.stack(frames), axis=0)
    k = len(frames)
    if k % 2:
        return s[k // 2]
    lo, hi = s[k // 2 - 1].astype(np.uint16), s[k // 2].astype(np.uint16)
    return ((lo + hi + 1) // 2).astype(np.uint8)
