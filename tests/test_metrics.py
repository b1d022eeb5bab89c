"""derain.metrics against scikit-image and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from derain.errors import DerainError
from derain.metrics import ClipScorer, flicker, psnr, rgb_to_y, ssim


def _noisy(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).round().astype(np.uint8)


def _pairs():
    rng = np.random.default_rng(1)
    rand = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    yield "random", rand, _noisy(rand, 20, 2)
    # Natural images, cut to keep the test fast.
    yield "astronaut", data.astronaut()[100:260, 150:350], _noisy(data.astronaut()[100:260, 150:350], 8, 3)
    yield "coffee", data.coffee()[50:200, 200:420], _noisy(data.coffee()[50:200, 200:420], 15, 4)


PAIRS = list(_pairs())
IDS = [p[0] for p in PAIRS]


def _sk_ssim(a: np.ndarray, b: np.ndarray, **kw) -> float:
    # skimage filters with 'reflect' padding, then drops (win_size - 1) // 2 = 5 pixels from each
    # side of the SSIM map before averaging: exactly the map of MATLAB's / BasicSR's 'valid'
    # filtering, so the two agree on the same image without any extra cropping.
    return sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, **kw)


@pytest.mark.parametrize(("name", "gt", "pred"), PAIRS, ids=IDS)
def test_y_channel_matches_skimage(name, gt, pred):
    yg, yp = rgb_to_y(gt).numpy(), rgb_to_y(pred).numpy()
    assert yg.dtype == np.float64
    assert float(psnr(pred, gt)) == pytest.approx(sk_psnr(yg, yp, data_range=255), abs=1e-3)
    assert float(ssim(pred, gt)) == pytest.approx(_sk_ssim(yg, yp), abs=1e-4)


@pytest.mark.parametrize(("name", "gt", "pred"), PAIRS, ids=IDS)
def test_rgb_matches_skimage(name, gt, pred):
    assert float(psnr(pred, gt, channel="rgb")) == pytest.approx(sk_psnr(gt, pred, data_range=255), abs=1e-3)
    # skimage's channel_axis SSIM is the mean of per-channel SSIMs, as BasicSR's.
    expected = _sk_ssim(gt.astype(np.float64), pred.astype(np.float64), channel_axis=-1)
    assert float(ssim(pred, gt, channel="rgb")) == pytest.approx(expected, abs=1e-4)


def test_crop_border_matches_cropped_skimage():
    _, gt, pred = PAIRS[1]
    k = 7
    yg, yp = rgb_to_y(gt[k:-k, k:-k]).numpy(), rgb_to_y(pred[k:-k, k:-k]).numpy()
    assert float(psnr(pred, gt, crop_border=k)) == pytest.approx(sk_psnr(yg, yp, data_range=255), abs=1e-3)
    assert float(ssim(pred, gt, crop_border=k)) == pytest.approx(_sk_ssim(yg, yp), abs=1e-4)
    assert float(ssim(pred, gt, crop_border=k)) != float(ssim(pred, gt))


def test_y_conversion_values():
    black, white = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8)
    assert float(rgb_to_y(black)) == pytest.approx(16.0)
    assert float(rgb_to_y(white)) == pytest.approx(235.0)
    red = np.array([[[255, 0, 0]]], np.uint8)
    assert float(rgb_to_y(red)) == pytest.approx(16 + 65.481)


def test_identical_images():
    _, gt, _ = PAIRS[1]
    assert math.isinf(float(psnr(gt, gt))) and float(psnr(gt, gt)) > 0
    assert math.isinf(float(psnr(gt, gt, channel="rgb")))
    assert float(ssim(gt, gt)) == pytest.approx(1.0, abs=1e-12)


def test_batch_equals_per_image_and_input_types():
    gts = np.stack([p[1][:36, :50] for p in PAIRS])
    preds = np.stack([p[2][:36, :50] for p in PAIRS])
    for fn in (psnr, ssim):
        for channel in ("y", "rgb"):
            batch = fn(preds, gts, channel=channel)
            assert batch.shape == (3,) and batch.dtype == torch.float64
            singles = [fn(p, g, channel=channel) for p, g in zip(preds, gts, strict=True)]
            assert all(s.ndim == 0 for s in singles)
            torch.testing.assert_close(batch, torch.stack(singles), rtol=0, atol=1e-12)
            # torch tensors and floats on the 0..255 scale give the same numbers as uint8.
            as_torch = fn(torch.from_numpy(preds).float(), torch.from_numpy(gts).double(), channel=channel)
            torch.testing.assert_close(as_torch, batch, rtol=0, atol=1e-9)


def test_errors():
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(DerainError, match="differ in shape"):
        psnr(a, np.zeros((20, 21, 3), np.uint8))
    with pytest.raises(DerainError, match="shape"):
        ssim(a[..., 0], a[..., 0])
    with pytest.raises(DerainError, match="channel"):
        psnr(a, a, channel="lab")
    with pytest.raises(DerainError, match="11x11"):
        ssim(a, a, crop_border=5)
    with pytest.raises(DerainError, match="crop_border"):
        psnr(a, a, crop_border=10)


def test_flicker_zero_and_hand_computed():
    rng = np.random.default_rng(5)
    clip = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    assert flicker(clip, clip) == 0.0
    # A constant offset does not flicker: frame-to-frame changes are the same as the GT's.
    assert flicker(clip.astype(np.float64) + 3.0, clip) == pytest.approx(0.0, abs=1e-12)
    # GT static black; prediction grey 0 -> 10 -> 10: changes 10 then 0 on every RGB channel,
    # and 10 * (65.481 + 128.553 + 24.966) / 255 = 10 * 219 / 255 on Y.
    gt = np.zeros((3, 12, 12, 3), np.uint8)
    pred = gt.copy()
    pred[1:] = 10
    assert flicker(pred, gt, channel="rgb") == pytest.approx(5.0)
    assert flicker(pred, gt) == pytest.approx(5.0 * 219 / 255)
    assert math.isnan(flicker(pred[:1], gt[:1]))


def test_clip_scorer_matches_functions():
    rng = np.random.default_rng(6)
    gt = rng.integers(0, 256, (6, 24, 20, 3), dtype=np.uint8)
    pred = _noisy(gt, 10, 7)
    scorer = ClipScorer(channels=("y", "rgb"), crop_border=2)
    for p, g in zip(pred, gt, strict=True):
        scorer.add(p, g)
    s = scorer.summary()
    assert s["frames"] == 6 and scorer.frames == 6
    for ch in ("y", "rgb"):
        assert s[f"psnr_{ch}"] == pytest.approx(float(psnr(pred, gt, channel=ch, crop_border=2).mean()))
        assert s[f"ssim_{ch}"] == pytest.approx(float(ssim(pred, gt, channel=ch, crop_border=2).mean()))
        assert s[f"flicker_{ch}"] == pytest.approx(flicker(pred, gt, channel=ch, crop_border=2))
        assert len(scorer.per_frame(f"psnr_{ch}")) == 6
    assert [r["frame"] for r in scorer.rows()] == list(range(6))
    assert math.isnan(scorer.rows()[0]["flicker_y"])

    # Default: one channel, Y.
    single = ClipScorer()
    for p, g in zip(pred, gt, strict=True):
        single.add(p, g)
    assert set(single.summary()) == {"frames", "psnr_y", "ssim_y", "flicker_y"}


def test_clip_scorer_drop_ends():
    rng = np.random.default_rng(8)
    gt = rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8)
    pred = _noisy(gt, 12, 9)
    scorer = ClipScorer(drop_ends=2)
    for p, g in zip(pred, gt, strict=True):
        scorer.add(p, g)
    s = scorer.summary()
    kept = slice(2, 7)
    assert s["frames"] == 5
    assert [r["frame"] for r in scorer.rows()] == [2, 3, 4, 5, 6]
    assert s["psnr_y"] == pytest.approx(float(psnr(pred[kept], gt[kept]).mean()))
    assert s["flicker_y"] == pytest.approx(flicker(pred[kept], gt[kept]))
    empty = ClipScorer(drop_ends=5)
    for p, g in zip(pred, gt, strict=True):
        empty.add(p, g)
    assert empty.summary()["frames"] == 0 and math.isnan(empty.summary()["psnr_y"])


def test_clip_scorer_errors():
    scorer = ClipScorer()
    a = np.zeros((16, 16, 3), np.uint8)
    scorer.add(a, a)
    with pytest.raises(DerainError, match="frame 1"):
        scorer.add(np.zeros((16, 18, 3), np.uint8), np.zeros((16, 18, 3), np.uint8))
    with pytest.raises(DerainError):
        ClipScorer(channels=("y", "hsv"))
