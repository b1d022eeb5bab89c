"""The pilot behind RRGNet's continual defaults (docs/rrgnet.md, "Why those defaults").

Reruns the downpour task of the shipped continual run from its storm checkpoint with a given peak
learning rate and replay fraction, scores every rain type on the continual test sets, and prints
the light test set per clip (the one dark, low-contrast clip carries nearly all the forgetting).

    python docs/experiments/downpour_pilot.py --lr 3e-4 --replay-fraction 1.0 --steps 500
    python docs/experiments/downpour_pilot.py --lr 1e-3 --replay-fraction 0.5 --steps 1000

Needs runs/rrgnet-continual/continual/3-storm/{last.pt,review.pt} (review.pt is not committed:
rerun the continual experiment to recreate it) and the shared clean data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def per_clip_light(model, test) -> list[float]:
    from derain import runtime
    from derain.metrics import psnr
    from derain.train.validation import to_uint8_frames

    with torch.no_grad(), runtime.autocast(torch.device("cpu"), "bf16"):
        pred = model(test["light"]["rainy"], pad=True)
    scores = psnr(to_uint8_frames(pred), to_uint8_frames(test["light"]["clean"]))
    return [round(float(v), 2) for v in scores.reshape(len(test["light"]["rainy"]), -1).mean(1)]


def pilot_setup(run: str, task: str, clean: str, steps: int, lr: float | None = None):
    """A finished task folder of the continual ``run`` (with its review), the `derain train`
    arguments of the pilot's tasks, and the five rain types' continual test sets."""
    from derain.cli import build_parser
    from derain.train.forgetting import make_test_sets

    src = Path(run) / "continual" / task
    if not (src / "review.pt").exists():
        sys.exit(f"{src / 'review.pt'} is missing: rerun the continual experiment first")
    train_args = build_parser().parse_args(
        ["train", "--continual", "--clean", clean, "--steps", str(steps), "--batch", "16"]
        + ["--val-clips", "8", "--log-every", "100", "--val-every", "100000"]
        + ([] if lr is None else ["--lr", str(lr)])
    )
    test = make_test_sets(["light", "complex", "drizzle", "storm", "downpour"], clean, clips=6, size=128)
    return src, train_args, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--replay-fraction", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--clean", default=str(ROOT.parent / "shared" / "data" / "clean"))
    parser.add_argument("--run", default=str(ROOT / "runs" / "rrgnet-continual"))
    args = parser.parse_args()
    from derain.models import build_model, saved_config
    from derain.train.continual import ContinualObjective, RainReview, freeze_teacher
    from derain.train.forgetting import _train_task, score

    src, train_args, test = pilot_setup(args.run, "3-storm", args.clean, args.steps, args.lr)
    ckpt = torch.load(src / "last.pt", weights_only=False)
    model = build_model("rrgnet", **saved_config("rrgnet", ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    print("storm checkpoint, light per clip:", per_clip_light(model.eval(), test))
    review = RainReview(budget=256, seed=0)
    review.load_state_dict(torch.load(src / "review.pt", weights_only=False))
    review.start_task("downpour")
    objective = ContinualObjective(
        teacher=freeze_teacher(model), review=review, replay_fraction=args.replay_fraction
    )
    with tempfile.TemporaryDirectory() as tmp:
        _train_task(train_args, model.train(), objective, ["downpour"], Path(tmp), args.steps, args.lr)
    print("after downpour:", {k: round(v, 2) for k, v in score(model, test).items()})
    print("after downpour, light per clip:", per_clip_light(model.eval(), test))


if __name__ == "__main__":
    main()
