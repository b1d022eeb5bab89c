"""Model tests on CPU, parametrized over every architecture (timm style)."""

from __future__ import annotations

import pytest
import torch

from derain.models import ARCHITECTURES, J4RNet, RRGNet, build_model
from derain.train.losses import J4RObjective, RestorationObjective, high_pass

SMALL = {
    "j4rnet": {"channels": 8, "extractor_blocks": 1},
    "rrgnet": {"width": 8, "skip_width": 4, "fusion_blocks": 1},
}


# Every architecture at its small size, plus the constructor options that change the graph.
VARIANTS = {
    **{arch: (arch, SMALL[arch]) for arch in sorted(ARCHITECTURES)},
    "rrgnet-plain": ("rrgnet", {**SMALL["rrgnet"], "context": False}),
}


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    # Zero-initialised output layers would make every test trivially pass: perturb all weights.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def _clean(out):
    return out["clean"] if isinstance(out, dict) else out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size", [(32, 32), (37, 50), (21, 19)])
def test_output_shape_any_size(variant, size):
    arch, config = VARIANTS[variant]
    model = _randomize(build_model(arch, **config))
    clip = torch.rand(2, 6, 3, *size)
    with torch.no_grad():
        out = _clean(model(clip))
    assert out.shape == clip.shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_streaming_equals_whole(variant):
    arch, config = VARIANTS[variant]
    model = _randomize(build_model(arch, **config))
    clip = torch.rand(1, 11, 3, 27, 34)
    with torch.no_grad():
        whole = _clean(model(clip))
        state, outs = model.stream_init(), []
        for a, b in [(0, 1), (1, 4), (4, 5), (5, 11)]:
            y, state = model.stream_push(clip[:, a:b], state)
            if y is not None:
                outs.append(y)
        tail = model.stream_flush(state)
        if tail is not None:
            outs.append(tail)
    streamed = torch.cat(outs, 1)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_streaming_equals_whole_under_bf16_autocast(variant):
    """The engine's default CPU path: streaming may only differ by bf16 rounding."""
    arch, config = VARIANTS[variant]
    model = _randomize(build_model(arch, **config))
    clip = torch.rand(1, 9, 3, 24, 28)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        whole = _clean(model(clip)).float()
        state, outs = model.stream_init(), []
        for t in range(clip.shape[1]):
            y, state = model.stream_push(clip[:, t : t + 1], state)
            if y is not None:
                outs.append(y.float())
        tail = model.stream_flush(state)
        if tail is not None:
            outs.append(tail.float())
    torch.testing.assert_close(torch.cat(outs, 1), whole, atol=2e-2, rtol=0)


def test_rrgnet_context_starts_as_the_plain_model_and_uses_the_whole_frame():
    plain = _randomize(RRGNet(**SMALL["rrgnet"], context=False))
    context = RRGNet(**SMALL["rrgnet"]).eval()
    missing = context.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["film.bias", "film.weight"]  # zero-initialised
    clip = torch.rand(1, 6, 3, 24, 128)
    with torch.no_grad():
        torch.testing.assert_close(context(clip), plain(clip))
        _randomize(context, seed=1)
        before = context(clip)[..., :8]
        far = clip.clone()
        far[..., 96:] = 1.0 - far[..., 96:]  # ~90 pixels away: beyond the left edge's receptive field
        after = context(far)[..., :8]
        local = plain(far)[..., :8]
    assert not torch.allclose(before, after)  # the frame-wide mean reaches every pixel
    torch.testing.assert_close(local, plain(clip)[..., :8])  # the plain model's does not


def test_weights_saved_before_the_context_option_load_as_plain(tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    from derain.models import load_model, save_weights

    path = save_weights(_randomize(RRGNet(**SMALL["rrgnet"], context=False)), tmp_path / "old.safetensors")
    config = {k: v for k, v in RRGNet(**SMALL["rrgnet"]).config.items() if k != "context"}
    save_file(load_file(str(path)), str(path), metadata={"arch": "rrgnet", "config": json.dumps(config)})
    assert load_model(path).config["context"] is False
    assert RRGNet().config["context"] is True  # a fresh model gets the shipped layout


def test_rrgnet_single_frame_clip():
    model = _randomize(RRGNet(**SMALL["rrgnet"]))
    clip = torch.rand(1, 1, 3, 16, 16)
    with torch.no_grad():
        assert model(clip).shape == clip.shape


def _batch(t: int = 5, size: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(2, t, 3, size, size, generator=g)
    streak = torch.rand(2, t, 3, size, size, generator=g) * 0.2
    alpha = (torch.rand(2, t, 1, size, size, generator=g) > 0.9).float()
    reliance = torch.full_like(clean, 0.8)
    rainy = (1 - alpha) * (clean + streak) + alpha * reliance
    return {"rainy": rainy, "clean": clean, "streak": streak, "alpha": alpha, "reliance": reliance}


J4R_PARTS = [
    "first_conv",
    "extractor",
    "dnet",
    "dnet_out",
    "fnet_gates",
    "fnet_candidate",
    "rnet",
    "rnet_out",
    "cnet",
    "cnet_out",
    "jrc",
    "jrc_out",
]


def test_j4rnet_gradients_reach_every_subnetwork():
    model = _randomize(J4RNet(**SMALL["j4rnet"])).train()
    loss, logs = J4RObjective()(model, _batch())
    loss.backward()
    for part in J4R_PARTS:
        grads = [p.grad for p in getattr(model, part).parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads), part
    assert set(logs) == {"joint", "detect", "rect", "removal"}


def test_j4rnet_stage1_trains_only_single_frame_parts():
    model = _randomize(J4RNet(**SMALL["j4rnet"])).train()
    stage1 = {id(p) for p in model.stage1_parameters()}
    loss, _ = J4RObjective(single_frame=True)(model, _batch())
    loss.backward()
    for p in model.parameters():
        assert (p.grad is not None) == (id(p) in stage1)


def test_j4r_loss_terms_and_weights():
    batch = _batch()
    model = _randomize(J4RNet(**SMALL["j4rnet"]))
    loss_all, logs = J4RObjective()(model, batch)
    expected = logs["joint"] + 1e-3 * logs["detect"] + 1e-4 * logs["rect"] + 1e-4 * logs["removal"]
    assert loss_all.item() == pytest.approx(expected, rel=1e-5)
    # E(.) keeps edges and removes flat regions entirely.
    assert high_pass(batch["clean"]).shape == batch["clean"].shape
    assert high_pass(torch.full((1, 3, 9, 9), 0.3)).abs().max() < 1e-6
    step = torch.zeros(1, 1, 9, 9)
    step[..., 5:] = 1
    assert high_pass(step).abs().max() > 0.1


def test_rrgnet_objective_uses_centre_frames():
    model = _randomize(RRGNet(**SMALL["rrgnet"])).train()
    batch = _batch(t=7)
    loss, logs = RestorationObjective()(model, batch)
    loss.backward()
    assert model(batch["rainy"], pad=False).shape[1] == 3
    assert all(p.grad is not None for p in model.parameters())
    assert "restore" in logs


def test_lr_schedule_holds_then_decays_to_lr_min():
    from derain.train.trainer import TrainConfig, lr_at

    cfg = TrainConfig(out_dir="x", steps=1001, lr=1e-3, lr_min=1e-5, decay_start=0.3)
    assert lr_at(0, cfg) == lr_at(300, cfg) == 1e-3
    assert lr_at(1000, cfg) == pytest.approx(1e-5)
    lrs = [lr_at(s, cfg) for s in range(1001)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


# One training step of a tiny RRGNet through the CLI (add --out and --config).
TINY_TRAIN = ["train", "--model", "rrgnet", "--presets", "light", "--steps", "1", "--batch", "2"]
TINY_TRAIN += ["--frames", "5", "--patch", "32", "--workers", "0", "--precision", "fp32", "--val-clips", "0"]


def test_resuming_a_run_with_another_config_names_the_flag(tmp_path, capsys):
    from derain.cli import main

    common = [*TINY_TRAIN, "--out", str(tmp_path / "run")]
    small = "width=8,skip_width=4,fusion_blocks=1"
    assert main([*common, "--config", small + ",context=false"]) == 0
    capsys.readouterr()
    code = main([*common, "--config", small, "--steps", "2", "--resume"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "--config context=false" in err
    # Without --resume the same folder is refused, not overwritten.
    before = (tmp_path / "run" / "last.pt").read_bytes()
    code = main([*common, "--config", small + ",context=false"])
    err = capsys.readouterr().err
    assert code != 0 and "--resume" in err and "Traceback" not in err
    assert (tmp_path / "run" / "last.pt").read_bytes() == before


def test_data_augmentations_are_recorded_in_the_checkpoint_and_card(tmp_path, capsys):
    from derain.cli import main

    common = [*TINY_TRAIN, "--config", "width=8,skip_width=4,fusion_blocks=1"]
    run = tmp_path / "run"
    assert main([*common, "--scene-haze", "0.5", "--dry", "0.25", "--out", str(run)]) == 0
    extra = torch.load(run / "last.pt", weights_only=False)["extra"]
    assert (extra["scene_haze"], extra["dry"]) == (0.5, 0.25)
    weights = tmp_path / "w.safetensors"
    assert main(["train", "--export", str(run / "last.pt"), "--to", str(weights)]) == 0
    card = weights.with_suffix(".md").read_text()
    assert "scene haze kept in the target on 50% of the clips, 25% of the clips dry" in card
    capsys.readouterr()
    for extra in (["--scene-haze", "1.5"], ["--dry", "-1"], ["--scene-haze", "0.5", "--data", str(tmp_path)]):
        code = main([*common, *extra, "--out", str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert code != 0 and extra[0][2:6] in err and "Traceback" not in err and err.count("\n") == 1
