"""Continual learning: the frozen teacher, the rain review's budget, a tiny two-task run."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from derain.models import RRGNet
from derain.train.continual import ContinualObjective, RainReview, freeze_teacher
from derain.train.forgetting import summarize

SMALL = {"width": 8, "skip_width": 4, "fusion_blocks": 1}


def _batch(n=4, t=7, size=16, seed=0, level=0.3):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, t, 3, size, size, generator=g) * 0.7
    streak = (torch.rand(n, t, 3, size, size, generator=g) > 0.9).float() * level
    alpha = (torch.rand(n, t, 1, size, size, generator=g) > 0.97).float()
    reliance = torch.full_like(clean, 0.9)
    rainy = (1 - alpha) * (clean + streak) + alpha * reliance
    return {"rainy": rainy, "clean": clean, "streak": streak, "alpha": alpha, "reliance": reliance}


def test_teacher_gets_no_gradient_and_stays_unchanged():
    student = RRGNet(**SMALL)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    teacher = freeze_teacher(student)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    review = RainReview(budget=8)
    review.start_task("a")
    review.offer(_batch(seed=1))
    review.start_task("b")
    objective = ContinualObjective(teacher=teacher, review=review)
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    loss, logs = objective(student, _batch(seed=2))
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in teacher.parameters())
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert {"task", "replay", "distill"} <= set(logs)
    # ... while the student did change.
    assert any(
        not torch.equal(a, b) for a, b in zip(student.state_dict().values(), before.values(), strict=True)
    )


def test_review_respects_budget_and_keeps_every_old_task():
    review = RainReview(budget=10, seed=3)
    for k, task in enumerate(["light", "complex", "drizzle", "storm"]):
        review.start_task(task)
        for i in range(6):
            review.offer(_batch(n=3, seed=10 * k + i))
            assert len(review) <= 10
        assert all(len(items) > 0 for items in review.tasks.values())
    assert set(review.tasks) == {"light", "complex", "drizzle", "storm"}
    drawn = review.draw(6, _batch(n=2)["clean"])
    assert drawn["rainy"].shape == (6, 7, 3, 16, 16)
    assert review.old_tasks() == ["light", "complex", "drizzle"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_objective_with_replay_runs_under_autocast(precision):
    from derain import runtime

    if precision == "bf16" and not runtime.cpu_supports_bf16():
        pytest.skip("no native bf16 on this CPU")
    student = RRGNet(**SMALL)
    review = RainReview(budget=4)
    review.start_task("a")
    review.offer(_batch(seed=1))
    review.start_task("b")
    objective = ContinualObjective(teacher=freeze_teacher(student), review=review)
    with runtime.autocast(torch.device("cpu"), precision):
        loss, logs = objective(student, _batch(seed=2))
    loss.backward()
    assert torch.isfinite(loss) and "replay" in logs


def test_recomposite_follows_the_hybrid_model():
    review = RainReview(budget=4)
    review.start_task("old")
    old = _batch(n=1, seed=5)
    review.offer(old)
    review.start_task("new")
    background = _batch(n=1, seed=6)["clean"]
    drawn = review.draw(1, background)
    alpha = old["alpha"]
    expected = (1 - alpha) * (background + torch.minimum(old["streak"], 1 - background)) + alpha * old[
        "reliance"
    ]
    torch.testing.assert_close(drawn["rainy"], expected, atol=2e-3, rtol=0)  # stored in float16
    torch.testing.assert_close(drawn["clean"], background)


def test_summarize_average_and_backward_transfer():
    matrix = [{"a": 30.0, "b": 20.0}, {"a": 29.0, "b": 28.0}]
    out = summarize(matrix, ["a", "b"])
    assert out["avg"] == 28.5
    assert out["bwt"] == -1.0


def test_tiny_two_task_continual_run(tmp_path):
    from derain.train.forgetting import run_experiment

    args = argparse.Namespace(
        tasks="light,storm",
        compare="continual,finetune,joint,specialist",
        out=str(tmp_path / "run"),
        steps=2,
        batch=2,
        lr=1e-3,
        lr_min=1e-4,
        device="cpu",
        precision="fp32",
        seed=0,
        workers=0,
        log_every=1,
        ckpt_every=250,
        val_clips=2,
        val_patch=32,
        val_every=2,
        threads=None,
        review_budget=4,
        review_mode="recomposite",
        replay_fraction=1.0,
        task_lr=3e-4,
        clean=None,
        data=None,
        test_clean=None,
        model="rrgnet",
        frames=5,
        patch=32,
        stage=2,
    )
    results = run_experiment(args, SMALL, test_clips=2, test_size=32)
    assert len(results["continual"]["matrix"]) == 2
    # Fine-tuning's first task is the same training as continual's: its checkpoint is copied, not
    # retrained (no log of its own), and scores the same.
    run = tmp_path / "run"
    assert (run / "finetune" / "0-light" / "last.pt").read_bytes() == (
        run / "continual" / "0-light" / "last.pt"
    ).read_bytes()
    assert not (run / "finetune" / "0-light" / "log.csv").exists()
    assert results["finetune"]["matrix"][0] == results["continual"]["matrix"][0]
    assert results["continual"]["bwt"] is not None
    assert set(results["specialist"]["scores"]) == {"light", "storm"}
    # So is the first specialist (one task from the same initial weights).
    assert (run / "specialist" / "light" / "last.pt").read_bytes() == (
        run / "continual" / "0-light" / "last.pt"
    ).read_bytes()
    assert results["specialist"]["scores"]["light"] == results["continual"]["matrix"][0]["light"]
    saved = json.loads((tmp_path / "run" / "forgetting.json").read_text())
    assert saved["tasks"] == ["light", "storm"]
    assert saved["lr_later_tasks"] == 3e-4
    # The first task uses the full rate, later ones (continual and fine-tuning alike) --task-lr.
    for strategy, task, lr in (
        ("continual", "0-light", 1e-3),
        ("continual", "1-storm", 3e-4),
        ("finetune", "1-storm", 3e-4),
    ):
        config = json.loads((tmp_path / "run" / strategy / task / "config.json").read_text())
        assert config["train_config"]["lr"] == lr
    for name in ("forgetting.md", "forgetting.png", "rrgnet.safetensors"):
        assert (tmp_path / "run" / name).is_file()
    review = torch.load(tmp_path / "run" / "continual" / "1-storm" / "review.pt", weights_only=False)
    assert len(review["tasks"]["light"]) > 0
    # A rerun finds every task finished: it restores the reviews instead of overwriting them.
    first = torch.load(tmp_path / "run" / "continual" / "0-light" / "review.pt", weights_only=False)
    args.compare = "continual"
    again = run_experiment(args, SMALL, test_clips=2, test_size=32)
    assert again["continual"]["matrix"] == results["continual"]["matrix"]
    kept = torch.load(tmp_path / "run" / "continual" / "0-light" / "review.pt", weights_only=False)
    assert len(kept["tasks"]["light"]) == len(first["tasks"]["light"]) > 0
    # The exported model card describes the whole sequence, not only its last task.
    from derain.train.export import export

    _, card = export(run / "continual" / "1-storm" / "last.pt", tmp_path / "w" / "seq.safetensors")
    text = card.read_text()
    assert "2 rain types learned in sequence (light -> storm)" in text
    assert "2 tasks, 2 steps each" in text
    assert "at step 2 of the last task (storm)" in text
    alone = tmp_path / "alone.pt"
    alone.write_bytes((run / "continual" / "1-storm" / "last.pt").read_bytes())
    _, card = export(alone, tmp_path / "w" / "one.safetensors")
    assert "rain types ['storm']" in card.read_text() and "in sequence" not in card.read_text()


BAD_SETTINGS = [
    ["--replay-fraction", "0"],
    ["--task-lr=-1e-3"],
    ["--tasks", "light"],
    ["--compare", "joint"],
]


@pytest.mark.parametrize("flags", BAD_SETTINGS)
def test_continual_cli_rejects_bad_settings(tmp_path, capsys, flags):
    from derain.cli import main

    out = str(tmp_path / "r")
    code = main(["train", "--model", "rrgnet", "--continual", "--steps", "1", "--out", out, *flags])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert any(word in err for word in ("--replay-fraction", "--tasks", "--compare"))
