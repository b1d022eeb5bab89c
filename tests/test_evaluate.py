"""derain.baselines, data-set layouts and derain.evaluate on tiny generated data sets."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from derain.baselines import Identity, Method, TemporalMedian
from derain.errors import DerainError
from derain.evaluate import evaluate, find_dataset, list_clips, pair_clips, resolve_method, score
from derain.io import write_image

CLIPS, FRAMES, W, H = ("c1", "c2", "c10"), 8, 48, 40


def make_clip(
    seed: int, frames: int = FRAMES, size: tuple[int, int] = (W, H)
) -> tuple[np.ndarray, np.ndarray]:
    """(rainy, clean) ``(T, H, W, 3)`` uint8: a slowly brightening static scene + bright streaks."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 4, y * 5, (x + y) * 2], -1) + 20 * seed % 60
    clean = np.stack([np.clip(base + t, 0, 230) for t in range(frames)]).astype(np.uint8)
    rainy = clean.copy()
    for t in range(frames):  # short-lived, bright, thin lines: what a temporal median removes
        for _ in range(6):
            cx, cy, n = rng.integers(0, w), rng.integers(0, h - 12), rng.integers(6, 12)
            rainy[t, cy : cy + n, cx] = 255
    return rainy, clean


def write_clip(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        write_image(folder / f"{i + 1:05d}.png", frame)
    return folder


def make_dataset(root: Path, layout: str = "rainsyn", clips=CLIPS) -> Path:
    """Write a tiny data set in one of the field's layouts; return the folder to give to evaluate."""
    for k, name in enumerate(clips):
        rainy, clean = make_clip(k + 1)
        if layout == "rainsyn":
            pairs = [(root / "input" / name, rainy), (root / "processed" / name, clean)]
        elif layout == "rainsyn-test":
            pairs = [(root / "test" / "input" / name, rainy), (root / "test" / "processed" / name, clean)]
            pairs += [
                (root / "train" / "input" / "other", rainy),
                (root / "train" / "processed" / "other", clean),
            ]
        elif layout == "nturain":
            pairs = [(root / f"{name}_Rain", rainy), (root / f"{name}_GT", clean)]
        elif layout == "synth":  # derain synth output: generic input/ + gt/ and more layers
            pairs = [
                (root / d / name, a) for d, a in (("input", rainy), ("gt", clean), ("streak", rainy - clean))
            ]
        else:
            raise ValueError(layout)
        for folder, frames in pairs:
            write_clip(folder, frames)
    return root


# -- baselines ---------------------------------------------------------------------------------


def test_temporal_median_clamped_window_and_streaming():
    rng = np.random.default_rng(0)
    frames = list(rng.integers(0, 256, (9, 6, 5, 3), dtype=np.uint8))
    median = TemporalMedian(window=5)
    pulled = []

    def source():
        for f in frames:
            pulled.append(f)
            yield f

    out = []
    for frame in median(source()):
        # Frame t needs frames up to t + 2, and no more than that has been read.
        assert len(pulled) == min(len(out) + 3, len(frames))
        out.append(frame)
    assert len(out) == len(frames) and all(o.dtype == np.uint8 for o in out)
    for t, o in enumerate(out):
        window = np.stack(frames[max(0, t - 2) : t + 3])
        np.testing.assert_array_equal(o, np.floor(np.median(window, axis=0) + 0.5).astype(np.uint8))
    # Short clips keep their length; window 1 is the identity.
    assert len(list(median(frames[:2]))) == 2 and len(list(median([]))) == 0
    np.testing.assert_array_equal(np.stack(list(TemporalMedian(window=1)(frames))), np.stack(frames))
    assert isinstance(median, Method) and median.name == "median"
    assert list(Identity()(frames))[3] is frames[3]
    with pytest.raises(DerainError, match="odd"):
        TemporalMedian(window=4)


def test_resolve_method():
    assert resolve_method("identity").name == "identity"
    assert resolve_method("median").window == 5
    assert resolve_method("median7").window == 7
    assert resolve_method("Median:3").name == "median3"
    assert resolve_method("median", median_window=9).window == 9
    with pytest.raises(DerainError):
        resolve_method("no-such-method")


# -- layouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "expected"),
    [("rainsyn", "rainsyn"), ("rainsyn-test", "rainsyn"), ("nturain", "nturain"), ("synth", "generic")],
)
def test_find_dataset_layouts(tmp_path, layout, expected):
    root = make_dataset(tmp_path / "data", layout)
    if layout == "nturain":  # a real-rain clip without ground truth is skipped, not fatal
        write_clip(root / "real_Rain", make_clip(9, frames=2)[0])
    ds = find_dataset(root)
    assert ds.layout == expected
    assert [c.name for c in ds.clips] == ["c1", "c2", "c10"]  # natural order
    for clip in ds.clips:
        assert clip.input.is_dir() and clip.gt.is_dir() and clip.input != clip.gt
    if layout == "nturain":
        assert ds.skipped == ["real_Rain"]
        assert ds.clips[0].input.name == "c1_Rain" and ds.clips[0].gt.name == "c1_GT"
    if layout == "rainsyn-test":
        assert ds.clips[0].input.parent.parent.name == "test"


def test_find_dataset_single_clip_and_videos(tmp_path, write_test_video):
    rainy, clean = make_clip(1)
    write_clip(tmp_path / "one" / "input", rainy)
    write_clip(tmp_path / "one" / "gt", clean)
    ds = find_dataset(tmp_path / "one")
    assert ds.layout == "generic" and [c.name for c in ds.clips] == ["one"]
    for sub in ("input", "gt"):
        (tmp_path / "vid" / sub).mkdir(parents=True)
        write_test_video(tmp_path / "vid" / sub / "street.mp4", frames=3, with_audio=False)
    ds = find_dataset(tmp_path / "vid")
    assert [(c.name, c.input.name) for c in ds.clips] == [("street", "street.mp4")]


def test_layout_errors(tmp_path):
    with pytest.raises(DerainError, match="not found"):
        find_dataset(tmp_path / "missing")
    (tmp_path / "odd" / "frames").mkdir(parents=True)
    with pytest.raises(DerainError, match="no known data-set layout"):
        find_dataset(tmp_path / "odd")
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "gt").mkdir()
    with pytest.raises(DerainError, match="no frames"):
        find_dataset(tmp_path / "empty")
    root = make_dataset(tmp_path / "d", "rainsyn", clips=("a",))
    write_clip(root / "input" / "b", make_clip(3)[0])
    with pytest.raises(DerainError, match="no ground truth .* b"):
        find_dataset(root)
    with pytest.raises(DerainError, match="one clip"):
        pair_clips(root / "input" / "a", root / "processed")
    assert list_clips(root / "input" / "a") is None


# -- evaluate ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One evaluation of identity and median on the RainSyn layout, with its report folder."""
    root = make_dataset(tmp_path_factory.mktemp("eval") / "RainSynTiny", "rainsyn")
    out = root.parent / "report"
    logs: list[str] = []
    result = evaluate(root, ["identity", "median"], out_dir=out, log=logs.append)
    return root, out, result, logs


def test_median_beats_identity(report):
    _, _, result, logs = report
    rows = {(r["clip"], r["method"]): r for r in result["clips"]}
    assert len(rows) == 6 and len(logs) == 6
    for clip in CLIPS:
        ident, med = rows[(clip, "identity")], rows[(clip, "median")]
        assert ident["frames"] == med["frames"] == FRAMES
        assert med["psnr_y"] > ident["psnr_y"] + 3
        assert med["ssim_y"] > ident["ssim_y"]
        assert med["psnr_rgb"] > ident["psnr_rgb"]
        assert med["flicker_y"] < ident["flicker_y"]
        assert med["fps"] > 0 and ident["fps"] > 0
    means = {m["method"]: m for m in result["mean"]}
    assert means["median"]["psnr_y"] == pytest.approx(np.mean([rows[(c, "median")]["psnr_y"] for c in CLIPS]))
    assert means["identity"]["clips"] == 3 and means["identity"]["frames"] == 3 * FRAMES


def test_report_files_match_score(report):
    root, out, result, _ = report
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {"report.md", "report.json", "report.csv", "scores.png"} | {
        f"crops/{c}.png" for c in CLIPS
    }
    assert not [p for p in out.parent.iterdir() if ".partial" in p.name]
    saved = json.loads((out / "report.json").read_text())
    assert saved["layout"] == "rainsyn" and saved["methods"] == ["identity", "median"]
    # The identity rows are the scores of the rainy input itself, as `derain score` computes them.
    direct = score(root / "input", root / "processed", channel="both")
    for row in direct["clips"]:
        mine = next(r for r in saved["clips"] if r["clip"] == row["clip"] and r["method"] == "identity")
        for key in ("frames", "psnr_y", "ssim_y", "flicker_y", "psnr_rgb", "ssim_rgb", "flicker_rgb"):
            assert mine[key] == pytest.approx(row[key], rel=1e-12), key
    with open(out / "report.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 + 2 and table[-1]["clip"] == "mean"
    md = (out / "report.md").read_text()
    assert "| method" in md and "BT.601" in md and "![c10](crops/c10.png)" in md
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_options(tmp_path):
    root = make_dataset(tmp_path / "nt", "nturain")
    result = evaluate(root, ["identity", TemporalMedian(window=3)], drop_ends=2, max_clips=2, crop_border=3)
    assert [r["clip"] for r in result["clips"]] == ["c1", "c1", "c2", "c2"]
    assert {r["frames"] for r in result["clips"]} == {FRAMES - 4}
    assert result["methods"] == ["identity", "median3"]
    direct = score(root / "c2_Rain", root / "c2_GT", drop_ends=2, crop_border=3)["clips"][0]
    assert result["clips"][2]["psnr_y"] == pytest.approx(direct["psnr_y"], rel=1e-12)
    with pytest.raises(DerainError, match="listed twice"):
        evaluate(root, ["median", "median5"])
    with pytest.raises(DerainError, match="too few"):
        evaluate(root, ["identity"], drop_ends=4, max_clips=1)


def test_evaluate_mismatch_leaves_no_output(tmp_path):
    root = make_dataset(tmp_path / "bad", "rainsyn", clips=("a",))
    (root / "processed" / "a" / "00008.png").unlink()
    out = tmp_path / "out"
    with pytest.raises(DerainError, match="8 frames but ground truth has 7"):
        evaluate(root, ["identity"], out_dir=out)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_identical_clip_scores_inf(tmp_path):
    _, clean = make_clip(2, frames=3)
    a, b = write_clip(tmp_path / "a", clean), write_clip(tmp_path / "b", clean)
    s = score(a, b, channel="both")["clips"][0]
    assert math.isinf(s["psnr_y"]) and s["ssim_rgb"] == pytest.approx(1.0) and s["flicker_y"] == 0.0
