"""The explicit train/test split of the clean material, and the project's standard benchmark.

The split is data (clip and image-set names of ``shared/data/clean/manifest.csv``), not paths.

- TEST: the three DAVIS clips kept at their original JPEG quality (~q90): ``car-shadow``,
  ``drift-chicane``, ``tennis``; and the Kodak24 stills (lossless, full resolution).
- TRAIN: the 13 other DAVIS clips (re-encoded at ~q75 upstream, fine as training input) and the
  CBSD68 and McMaster stills.

No clean frame of a TEST source is ever used for training, so scores on the standard benchmark
measure generalisation to unseen scenes.

The **standard benchmark** (:func:`build_standard_benchmark`) is one test set per rain preset, each of
10 clips x 20 frames at 480x270 drawn from the TEST split only (7 video windows and 3 Kodak stills
with synthetic camera motion), with fixed seeds. A **bundled** variant built from scikit-image's
photographs needs no shared data (for tests and demos); its scores are not comparable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from derain.data.sources import CleanSource, bundled_sources, manifest_sources
from derain.errors import DerainError
from derain.rain.params import sample_clip_params
from derain.rain.presets import PRESETS, get_preset

TEST_VIDEOS = ("car-shadow", "drift-chicane", "tennis")
TRAIN_VIDEOS = (
    "blackswan", "bmx-trees", "car-roundabout", "dog", "drift-straight", "horsejump-high", "kite-surf",
    "libby", "motocross-jump", "paragliding-launch", "parkour", "scooter-black", "soapbox",
)  # fmt: skip
TEST_IMAGE_SETS = ("kodak24",)
TRAIN_IMAGE_SETS = ("cbsd68", "mcmaster")

BENCHMARK_SIZE = (480, 270)  # width, height: DAVIS 854x480 downscaled by 0.5625 (whole field of view)
BENCHMARK_FRAMES = 20
BENCHMARK_SEED = 20180618  # preset k (in PRESETS order) uses seed BENCHMARK_SEED + k
BENCHMARK_CLIPS = (  # (source name, first frame); 10 clips, all from the TEST split
    ("car-shadow", 0), ("car-shadow", 20), ("drift-chicane", 0), ("drift-chicane", 32),
    ("tennis", 0), ("tennis", 25), ("tennis", 50),
    ("kodak24/kodim08", 0), ("kodak24/kodim13", 0), ("kodak24/kodim21", 0),
)  # fmt: skip
BUNDLED_SIZE = (320, 180)
BUNDLED_FRAMES = 10


def split_of(source: CleanSource | str) -> str | None:
    """``"train"``, ``"test"`` or ``None`` (not part of the shared material) for a source or name."""
    name = source.name if isinstance(source, CleanSource) else source
    head = name.split("/", 1)[0]
    if name in TEST_VIDEOS or ("/" in name and head in TEST_IMAGE_SETS):
        return "test"
    if name in TRAIN_VIDEOS or ("/" in name and head in TRAIN_IMAGE_SETS):
        return "train"
    return None


def split_sources(clean_root: str | os.PathLike, split: str) -> list[CleanSource]:
    """The sources of ``split`` ("train" or "test") in a clean root with ``manifest.csv``."""
    if split not in ("train", "test"):
        raise DerainError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(clean_root)
    if not (root / "manifest.csv").is_file():
        raise DerainError(f"{root} has no manifest.csv (expected the shared clean data folder)")
    return [s for s in manifest_sources(root) if split_of(s) == split]


def benchmark_seed(preset: str) -> int:
    """The fixed seed of a preset's standard test set."""
    return BENCHMARK_SEED + list(PRESETS).index(get_preset(preset).name)


def benchmark_plan(preset: str, clean_root: str | os.PathLike | None):
    """``[(clip name, source, start, params)]`` of one preset's standard (or bundled) test set."""
    seed = benchmark_seed(preset)
    if clean_root is None:
        (width, height), frames = BUNDLED_SIZE, BUNDLED_FRAMES
        picks = [(s, 0) for s in bundled_sources()]
    else:
        (width, height), frames = BENCHMARK_SIZE, BENCHMARK_FRAMES
        by_name = {s.name: s for s in split_sources(clean_root, "test")}
        missing = [n for n, _ in BENCHMARK_CLIPS if n not in by_name]
        if missing:
            raise DerainError(f"{clean_root} lacks the benchmark sources {', '.join(sorted(set(missing)))}")
        picks = [(by_name[n], start) for n, start in BENCHMARK_CLIPS]
    plan = []
    for i, (src, start) in enumerate(picks):
        if src.kind == "video" and src.frames < start + frames:
            raise DerainError(f"clean clip {src.name} has {src.frames} frames, need {start + frames}")
        params = sample_clip_params(
            preset, np.random.default_rng([seed, i]), frames=frames, height=height, width=width
        )
        tag = src.name.split("/")[-1].replace("bundled-", "")
        plan.append((f"{i:02d}_{tag}" + (f"_{start:03d}" if src.kind == "video" else ""), src, start, params))
    return plan, (width, height, frames, seed)


def build_standard_benchmark(
    clean_root: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    presets: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``out_dir/<preset>/{input,gt,streak,alpha,reliance}/...`` for every preset (atomically).

    ``clean_root``: the shared clean folder (standard benchmark) or ``None`` (bundled variant).
    """
    from derain.data.synthetic import write_dataset
    from derain.io import atomic_output

    names = [get_preset(p).name for p in (presets or list(PRESETS))]
    out = Path(out_dir)
    if out.is_dir() and not any(out.iterdir()):
        overwrite = True
    elif out.exists() and not overwrite:
        raise DerainError(f"output exists and is not empty: {out} (use --overwrite to replace it)")
    plans = {p: benchmark_plan(p, clean_root) for p in names}  # validates before writing anything
    variant = "bundled" if clean_root is None else "standard"
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        index = {"variant": variant, "presets": {}}
        for p, (plan, (width, height, frames, seed)) in plans.items():
            write_dataset(
                tmp / p,
                preset=p,
                clean=[s for _, s, _, _ in plan],
                clips=len(plan),
                frames=frames,
                width=width,
                height=height,
                seed=seed,
                fit="scale",
                plan=plan,
                extra_meta={"benchmark": variant, "split": "test"},
            )
            index["presets"][p] = {
                "seed": seed,
                "clips": [n for n, *_ in plan],
                "size": [width, height],
                "frames": frames,
            }
        (tmp / "benchmark.json").write_text(json.dumps(index, indent=1))
    return out
