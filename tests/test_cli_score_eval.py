"""`derain score` and `derain eval` through the command line: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derain.cli import main
from derain.io import write_image
from derain.metrics import psnr, ssim


def _frames(seed: int, n: int = 5, size=(32, 24)) -> tuple[np.ndarray, np.ndarray]:
    """(rainy, clean) uint8 ``(n, H, W, 3)``: smooth clean frames and a noisy copy."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    clean = np.stack([np.stack([x * 6 + t, y * 8, 90 + 0 * x], -1) for t in range(n)]).astype(np.uint8)
    rainy = np.clip(clean + rng.integers(-30, 31, clean.shape), 0, 255).astype(np.uint8)
    return rainy, clean


def _write(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        write_image(folder / f"{i:03d}.png", f)
    return folder


@pytest.fixture
def pair(tmp_path):
    rainy, clean = _frames(1)
    return _write(tmp_path / "pred", rainy), _write(tmp_path / "gt", clean), rainy, clean


def _one_error_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("derain: error: "), err
    for w in words:
        assert w in err, err
    return err


def test_score_one_clip_text_and_json(pair, capsys):
    pred, gt, rainy, clean = pair
    assert main(["score", str(pred), str(gt), "--per-frame"]) == 0
    out = capsys.readouterr().out
    assert "BT.601" in out and "| frame" in out and "| pred" in out
    assert main(["score", str(pred), str(gt), "--json", "--channel", "rgb", "--crop-border", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["clips"][0]
    assert row["frames"] == 5 and set(row) == {"clip", "frames", "psnr_rgb", "ssim_rgb", "flicker_rgb"}
    assert row["psnr_rgb"] == pytest.approx(float(psnr(rainy, clean, channel="rgb", crop_border=2).mean()))
    assert row["ssim_rgb"] == pytest.approx(float(ssim(rainy, clean, channel="rgb", crop_border=2).mean()))
    assert result["mean"]["psnr_rgb"] == pytest.approx(row["psnr_rgb"])


def test_score_folders_of_clips_and_drop_ends(tmp_path, capsys):
    for k, name in enumerate(("b", "a")):
        rainy, clean = _frames(k, n=6)
        _write(tmp_path / "P" / name, rainy)
        _write(tmp_path / "G" / name, clean)
    _write(tmp_path / "G" / "extra", _frames(5)[1])  # GT clips without a prediction are ignored
    assert main(["score", str(tmp_path / "P"), str(tmp_path / "G"), "--json", "--drop-ends", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [c["clip"] for c in result["clips"]] == ["a", "b"]
    assert [c["frames"] for c in result["clips"]] == [4, 4]
    assert result["mean"]["clips"] == 2
    assert result["mean"]["psnr_y"] == pytest.approx(np.mean([c["psnr_y"] for c in result["clips"]]))
    assert main(["score", str(tmp_path / "P"), str(tmp_path / "G")]) == 0
    assert "mean of clips" in capsys.readouterr().out


def test_score_bad_input(pair, tmp_path, capsys):
    pred, gt, rainy, clean = pair
    assert main(["score", str(tmp_path / "missing"), str(gt)]) == 2
    _one_error_line(capsys, "not found", "missing")
    (tmp_path / "empty").mkdir()
    assert main(["score", str(tmp_path / "empty"), str(gt)]) == 2
    _one_error_line(capsys, "empty")
    short = _write(tmp_path / "short", clean[:4])
    assert main(["score", str(pred), str(short)]) == 2
    _one_error_line(capsys, "5 frames", "ground truth has 4")
    small = _write(tmp_path / "small", clean[:, :20])
    assert main(["score", str(pred), str(small)]) == 2
    _one_error_line(capsys, "32x24", "32x20")
    assert main(["score", str(pred), str(gt), "--drop-ends", "3"]) == 2
    _one_error_line(capsys, "too few")
    with pytest.raises(SystemExit) as exc:
        main(["score", str(pred), str(gt), "--crop-border", "-1"])
    assert exc.value.code == 2


def test_score_subprocess_has_no_traceback(pair, tmp_path):
    pred, _, _, clean = pair
    short = _write(tmp_path / "short", clean[:3])
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "derain", "score", str(pred), str(short)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "derain: error: clip pred: prediction has 5 frames but ground truth has 3"
    ]


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "NTU"
    for k, name in enumerate(("s1", "s2")):
        rainy, clean = _frames(k + 3, n=4)
        _write(root / f"{name}_Rain", rainy)
        _write(root / f"{name}_GT", clean)
    return root


def test_eval_writes_report_and_refuses_overwrite(dataset, tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["eval", str(dataset), "--methods", "identity,median:3", "--out", str(out), "--no-crops"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "median3" in captured.out and "report.md" in captured.out
    assert "[2/2] s2 median3" in captured.err
    saved = json.loads((out / "report.json").read_text())
    assert saved["layout"] == "nturain" and [m["method"] for m in saved["mean"]] == ["identity", "median3"]
    assert not (out / "crops").exists()
    # identity's numbers are what `derain score` says about the rainy input
    assert (
        main(["score", str(dataset / "s1_Rain"), str(dataset / "s1_GT"), "--json", "--channel", "both"]) == 0
    )
    direct = json.loads(capsys.readouterr().out)["clips"][0]
    ident = next(r for r in saved["clips"] if r["clip"] == "s1" and r["method"] == "identity")
    assert ident["psnr_y"] == pytest.approx(direct["psnr_y"], rel=1e-12)
    assert ident["ssim_rgb"] == pytest.approx(direct["ssim_rgb"], rel=1e-12)

    before = (out / "report.json").stat().st_mtime_ns
    assert main(args) == 2
    _one_error_line(capsys, "exists", "--overwrite")
    assert (out / "report.json").stat().st_mtime_ns == before
    assert main([*args, "--overwrite", "-q", "--max-clips", "1"]) == 0
    assert capsys.readouterr().err == ""
    assert len(json.loads((out / "report.json").read_text())["clips"]) == 2


def test_eval_bad_input(dataset, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["eval", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    _one_error_line(capsys, "not found")
    (tmp_path / "plain" / "x").mkdir(parents=True)
    assert main(["eval", str(tmp_path / "plain"), "--out", str(out)]) == 2
    _one_error_line(capsys, "no known data-set layout")
    assert main(["eval", str(dataset), "--methods", "median4", "--out", str(out)]) == 2
    _one_error_line(capsys, "odd")
    assert main(["eval", str(dataset), "--methods", "no-such-model", "--out", str(out)]) == 2
    _one_error_line(capsys, "no-such-model")
    (dataset / "s2_GT" / "003.png").unlink()
    assert main(["eval", str(dataset), "--out", str(out)]) == 2
    _one_error_line(capsys, "s2", "4 frames", "ground truth has 3")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
