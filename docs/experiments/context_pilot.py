"""Pilot: does frame-wide context stop the downpour task from "dehazing" dark light-rain scenes?

docs/rrgnet.md traces RRGNet's backward transfer to one dark, flat light-rain test clip that the
downpour model treats as veiled: within RRGNet's ~100-pixel receptive field a veil of rain and a
naturally low-contrast scene look alike. This pilot adds the cheapest frame-wide context, a FiLM
modulation of the fused features by their own spatial mean (``x * (1 + g) + b``, ``g, b`` from a
zero-initialised 1x1 conv, so training starts from plain RRGNet: ``RRGNet(context=True)``), and
runs the two-task sequence light -> downpour with the shipped recipe (1000 steps each, lr 1e-3,
distillation + rain review of 256 clips, half-size replay). The baseline is plain RRGNet: the
shipped run's light task (same recipe) followed by the same downpour task. Prints every task's
score and the light clips one by one after each task.

    python docs/experiments/context_pilot.py --steps 1000

Needs runs/rrgnet-continual/continual/0-light/{last.pt,review.pt} (review.pt is not committed:
rerun the continual experiment to recreate it) and the shared clean data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from downpour_pilot import per_clip_light, pilot_setup  # noqa: E402

from derain.models import RRGNet  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--clean", default=str(ROOT.parent / "shared" / "data" / "clean"))
    parser.add_argument("--run", default=str(ROOT / "runs" / "rrgnet-continual"))
    parser.add_argument("--variants", default="baseline,context")
    args = parser.parse_args()
    from derain.models import build_model, saved_config
    from derain.train.continual import ContinualObjective, RainReview, freeze_teacher
    from derain.train.forgetting import _train_task, score

    light_dir, train_args, test = pilot_setup(args.run, "0-light", args.clean, args.steps)

    def report(variant: str, after: str, model) -> None:
        print(f"[{variant}] after {after}:", {k: round(v, 2) for k, v in score(model, test).items()})
        print(f"[{variant}] after {after}, light per clip:", per_clip_light(model.eval(), test), flush=True)

    for variant in args.variants.split(","):
        review = RainReview(budget=256, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            if variant == "baseline":
                ckpt = torch.load(light_dir / "last.pt", weights_only=False)
                model = build_model("rrgnet", **saved_config("rrgnet", ckpt["model_config"]))
                model.load_state_dict(ckpt["model"])
                review.load_state_dict(torch.load(light_dir / "review.pt", weights_only=False))
            else:
                torch.manual_seed(train_args.seed)
                model = RRGNet(context=True)
                review.start_task("light")
                objective = ContinualObjective(review=review, replay_fraction=0.5)
                _train_task(train_args, model.train(), objective, ["light"], Path(tmp), args.steps, 1e-3)
            report(variant, "light", model)
            review.start_task("downpour")
            objective = ContinualObjective(teacher=freeze_teacher(model), review=review, replay_fraction=0.5)
            _train_task(train_args, model.train(), objective, ["downpour"], Path(tmp) / "d", args.steps, 1e-3)
        report(variant, "downpour", model)


if __name__ == "__main__":
    main()
