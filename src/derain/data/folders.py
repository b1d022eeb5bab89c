"""Training clips cut from a ``derain synth`` folder (or any folder with the same layout).

``DIR/{input,gt,streak,alpha,reliance}/<clip>/<frame>.png``: ``input`` and ``gt`` are required;
the other layers are used when present (J4R-Net's auxiliary losses need them) and replaced by
their best guess otherwise (``streak = input - gt`` clipped at 0, ``alpha = 0``, ``reliance = input``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from derain.errors import DerainError

_LAYERS = ("input", "gt", "streak", "alpha", "reliance")


def _read_clip(folder: Path) -> np.ndarray:
    from derain.io import FrameReader

    with FrameReader(folder) as reader:
        return np.stack(list(reader))


class SynthFolderClips(Dataset):
    """Random ``frames`` x ``patch`` x ``patch`` crops (with flips) from every clip of a synth folder.

    Item ``i`` depends only on ``(seed, i)``. Clips are decoded once and kept in memory as uint8.
    Returns the same dict as :class:`~derain.data.synthetic.SyntheticRainClips`.
    """

    def __init__(
        self, root: str | Path, *, frames: int = 9, patch: int = 64, length: int = 10_000, seed: int = 0
    ) -> None:
        root = Path(root)
        for name in ("input", "gt"):
            if not (root / name).is_dir():
                raise DerainError(f"{root} is not a synth folder: {root / name} is missing")
        names = sorted(p.name for p in (root / "input").iterdir() if p.is_dir())
        if not names:
            raise DerainError(f"no clips in {root / 'input'}")
        self.clips = []
        for name in names:
            layers = {k: _read_clip(root / k / name) for k in _LAYERS if (root / k / name).is_dir()}
            t, h, w, _ = layers["input"].shape
            if layers["gt"].shape != layers["input"].shape:
                raise DerainError(f"clip {name}: input and gt differ in shape")
            if t < frames or h < patch or w < patch:
                raise DerainError(
                    f"clip {name} ({t} frames {w}x{h}) is smaller than {frames}x{patch}x{patch}"
                )
            self.clips.append(layers)
        self.frames, self.patch, self.length, self.seed = frames, patch, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        layers = self.clips[int(rng.integers(len(self.clips)))]
        t, h, w, _ = layers["input"].shape
        t0 = int(rng.integers(t - self.frames + 1))
        y, x = int(rng.integers(h - self.patch + 1)), int(rng.integers(w - self.patch + 1))
        flip = bool(rng.integers(2))

        def crop(a: np.ndarray) -> torch.Tensor:
            c = a[t0 : t0 + self.frames, y : y + self.patch, x : x + self.patch].astype(np.float32) / 255
            if flip:
                c = c[:, :, ::-1]
            return torch.from_numpy(np.ascontiguousarray(c)).permute(0, 3, 1, 2)

        rainy, clean = crop(layers["input"]), crop(layers["gt"])
        streak = crop(layers["streak"]) if "streak" in layers else (rainy - clean).clamp_min(0)
        alpha = crop(layers["alpha"])[:, :1].round() if "alpha" in layers else torch.zeros_like(rainy[:, :1])
        reliance = crop(layers["reliance"]) if "reliance" in layers else rainy.clone()
        return {
            "rainy": rainy,
            "clean": clean,
            "streak": streak,
            "alpha": alpha,
            "reliance": reliance,
            "preset": torch.tensor(0),
        }
