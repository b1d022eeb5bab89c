"""The on-the-fly training Dataset and the clean sources / split it draws from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from derain.data.sources import bundled_sources, load_sources
from derain.data.synthetic import SyntheticRainClips
from derain.errors import DerainError

SHARED_CLEAN = Path(__file__).resolve().parents[2] / "shared/data/clean"


def test_items_have_the_contract_shapes_and_hold_the_formula():
    ds = SyntheticRainClips(
        presets=("light", "complex", "storm"), frames=5, patch=(32, 48), length=20, seed=1
    )
    assert len(ds) == 20
    for i in range(6):
        x = ds[i]
        for key in ("rainy", "clean", "streak", "reliance"):
            assert x[key].shape == (5, 3, 32, 48) and x[key].dtype == torch.float32
            assert 0 <= float(x[key].min()) and float(x[key].max()) <= 1
        assert x["alpha"].shape == (5, 1, 32, 48)
        assert set(torch.unique(x["alpha"]).tolist()) <= {0.0, 1.0}
        assert torch.equal(
            x["rainy"], (1 - x["alpha"]) * (x["clean"] + x["streak"]) + x["alpha"] * x["reliance"]
        )
        assert x["preset"].dtype == torch.int64 and 0 <= int(x["preset"]) < 3
    with pytest.raises(IndexError):
        ds[20]


def test_items_are_deterministic_in_seed_and_index():
    a = SyntheticRainClips(presets="complex", frames=3, patch=24, length=10, seed=4)
    b = SyntheticRainClips(presets="complex", frames=3, patch=24, length=10, seed=4)
    c = SyntheticRainClips(presets="complex", frames=3, patch=24, length=10, seed=5)
    assert torch.equal(b[7]["rainy"], a[7]["rainy"])
    assert not torch.equal(a[7]["rainy"], a[6]["rainy"])
    assert not torch.equal(a[7]["rainy"], c[7]["rainy"])
    assert torch.equal(a[3]["clean"], a[3]["clean"])  # a second call (sources now cached) agrees


def test_scene_haze_is_kept_in_the_clean_target():
    kw = dict(presets="light", frames=3, patch=32, length=12, seed=2)
    plain = SyntheticRainClips(**kw)
    assert torch.equal(SyntheticRainClips(**kw, scene_haze=0.0)[5]["rainy"], plain[5]["rainy"])
    hazy = SyntheticRainClips(**kw, scene_haze=1.0)
    contrast_drop = 0
    for i in range(6):
        a, b = plain[i], hazy[i]
        # the formula still holds on the hazed background, and haze only mixes towards a grey
        assert torch.equal(
            b["rainy"], (1 - b["alpha"]) * (b["clean"] + b["streak"]) + b["alpha"] * b["reliance"]
        )
        assert not torch.equal(a["clean"], b["clean"])
        assert 0 <= float(b["clean"].min()) and float(b["clean"].max()) <= 1
        contrast_drop += int(b["clean"].std() < a["clean"].std())
        assert torch.equal(hazy[i]["clean"], b["clean"])  # deterministic
    assert contrast_drop == 6  # haze lowers contrast
    some = SyntheticRainClips(**kw, scene_haze=0.5)
    hazed = [not torch.equal(some[i]["clean"], plain[i]["clean"]) for i in range(12)]
    assert 0 < sum(hazed) < 12
    with pytest.raises(DerainError, match="scene_haze"):
        SyntheticRainClips(**kw, scene_haze=1.5)


def test_dry_clips_have_no_rain():
    kw = dict(presets="downpour", frames=3, patch=32, length=8, seed=3)
    dry, wet = SyntheticRainClips(**kw, dry=1.0), SyntheticRainClips(**kw)
    for i in range(4):
        x = dry[i]
        assert torch.equal(x["rainy"], x["clean"]) and torch.equal(x["clean"], wet[i]["clean"])
        assert float(x["streak"].abs().max()) == 0 and float(x["alpha"].max()) == 0
        assert not torch.equal(wet[i]["rainy"], wet[i]["clean"])
    with pytest.raises(DerainError, match="dry"):
        SyntheticRainClips(**kw, dry=-0.1)


def test_video_and_image_folder_sources(tmp_path, write_test_video, write_frame_folder, test_frames):
    (tmp_path / "clean").mkdir()
    write_test_video(tmp_path / "clean" / "pan.mp4", frames=12, size=(96, 64), with_audio=False)
    frames = test_frames(6, (96, 64))
    for i, f in enumerate(frames[:2]):
        write_frame_folder(tmp_path / "clean", f[None], names=[f"still{i}.png"])
    write_frame_folder(tmp_path / "clean" / "clip", frames, names=[f"{i:05d}.png" for i in range(6)])
    sources = load_sources(tmp_path / "clean")
    kinds = {s.name: s.kind for s in sources}
    assert kinds == {"still0": "still", "still1": "still", "clip": "video", "pan": "video"}
    assert {s.name: s.frames for s in sources}["clip"] == 6
    ds = SyntheticRainClips(sources=sources, presets="light", frames=4, patch=24, length=8, seed=0)
    for i in range(8):
        assert ds[i]["clean"].shape == (4, 3, 24, 24)


def test_bundled_sources_ship_with_the_packages():
    sources = bundled_sources()
    assert len(sources) >= 3 and all(s.kind == "still" and s.path.is_file() for s in sources)
    img = sources[0].load()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_bad_dataset_arguments():
    with pytest.raises(DerainError, match="unknown rain preset"):
        SyntheticRainClips(presets="hail")
    with pytest.raises(DerainError):
        SyntheticRainClips(patch=4)


@pytest.mark.skipif(not (SHARED_CLEAN / "manifest.csv").is_file(), reason="shared clean data not available")
def test_split_covers_the_shared_material_exactly_once():
    from derain.data.sources import manifest_sources
    from derain.data.splits import BENCHMARK_CLIPS, benchmark_plan, split_of, split_sources

    every = manifest_sources(SHARED_CLEAN)
    assert all(split_of(s) in ("train", "test") for s in every)
    train, test = split_sources(SHARED_CLEAN, "train"), split_sources(SHARED_CLEAN, "test")
    assert len(train) + len(test) == len(every)
    assert {s.name for s in test if s.kind == "video"} == {"car-shadow", "drift-chicane", "tennis"}
    assert not {s.name for s in train} & {s.name for s in test}
    assert all(split_of(name) == "test" for name, _ in BENCHMARK_CLIPS)
    plan, (w, h, frames, seed) = benchmark_plan("light", SHARED_CLEAN)
    assert len(plan) == len(BENCHMARK_CLIPS) and (w, h, frames) == (480, 270, 20)
