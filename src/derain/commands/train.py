"""``derain train``: train J4R-Net (two stages), RRGNet, or RRGNet's continual sequence.

Examples::

    derain train --model j4rnet --stage 1 --presets light,complex --clean DATA --out runs/j4r-s1
    derain train --model j4rnet --stage 2 --init runs/j4r-s1/last.pt --clean DATA --out runs/j4r-s2
    derain train --model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --out runs/rrg
    derain train --export runs/j4r-s2/best.pt --to j4rnet.safetensors

Data is rendered on the fly from clean material (``--clean``: a folder, a manifest root such as
shared/data/clean, or nothing for the images bundled with scikit-image); only the training split
of a manifest root is used (see derain.data.splits). ``--data DIR`` trains on a ``derain synth``
folder instead. Every option lands in the run's checkpoint and ``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from derain.errors import DerainError

# Continual-learning defaults: the shipped rrgnet's recipe. A full rerun with the downpour pilot's
# settings (later tasks at lr 3e-4, full-size replay) forgot as much and learned less (docs/rrgnet.md).
REPLAY_FRACTION = 0.5
TASK_LR = None  # later tasks at --lr


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model (J4R-Net stages, RRGNet, continual over rain types)")
    p.add_argument("--model", choices=["j4rnet", "rrgnet"], default="rrgnet")
    p.add_argument(
        "--config", default="", help="model constructor keywords, e.g. channels=32,extractor_blocks=4"
    )
    p.add_argument(
        "--stage", type=int, choices=[1, 2], default=2, help="J4R-Net: 1 = single-frame pre-training"
    )
    p.add_argument("--presets", default="light,complex", help="rain types to train on (comma-separated)")
    p.add_argument("--clean", default=None, help="clean material (default: scikit-image's bundled images)")
    p.add_argument(
        "--data", default=None, help="a `derain synth` folder to train on instead of on-the-fly rain"
    )
    p.add_argument(
        "--frames", type=int, default=None, help="frames per training clip (default 9, stage 1: 1)"
    )
    p.add_argument(
        "--patch", type=int, default=None, help="patch side in pixels (default: 32 J4R-Net, 64 RRGNet)"
    )
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16, help="global batch size (split across torchrun ranks)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-5)
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (e.g. stage 1)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--out", default=None, help="run folder (checkpoints, log.csv, curve.png)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--workers", type=int, default=1, help="data-rendering worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--ckpt-every", type=int, default=250, help="write last.pt every N steps")
    p.add_argument(
        "--val-clips", type=int, default=16, help="validation clips (rendered once, TRAIN split); 0: none"
    )
    p.add_argument(
        "--scene-haze",
        type=float,
        default=0.0,
        help="share of training clips whose clean background gets haze of its own, kept in the target "
        "(teaches that a hazy scene is not a rain veil; default 0)",
    )
    p.add_argument(
        "--dry",
        type=float,
        default=0.0,
        help="share of training clips left without rain (the model learns to leave dry scenes alone; "
        "default 0)",
    )
    p.add_argument("--val-patch", type=int, default=96, help="validation patch side in pixels")
    p.add_argument("--threads", type=int, default=None)
    # Continual learning (RRGNet).
    p.add_argument("--continual", action="store_true", help="learn --tasks one after another (RRGNet)")
    p.add_argument("--tasks", default="light,complex,drizzle,storm,downpour")
    p.add_argument("--review-budget", type=int, default=256, help="clips the rain review may hold")
    p.add_argument("--review-mode", choices=["recomposite", "stored"], default="recomposite")
    p.add_argument(
        "--replay-fraction",
        type=float,
        default=REPLAY_FRACTION,
        help="replayed clips per new clip in a batch",
    )
    p.add_argument(
        "--task-lr",
        type=float,
        default=TASK_LR,
        help="peak learning rate of every task after the first, continual and fine-tuning alike "
        "(absolute; default: --lr)",
    )
    p.add_argument(
        "--compare",
        default="continual,finetune,joint,specialist",
        help="strategies to run for the forgetting table",
    )
    p.add_argument("--test-clean", default=None, help="clean material for the continual test sets")
    # Export.
    p.add_argument(
        "--export", default=None, metavar="CKPT", help="export a checkpoint's weights as safetensors"
    )
    p.add_argument("--to", default=None, metavar="FILE", help="with --export: the .safetensors file to write")
    p.add_argument(
        "--card-notes", default=None, metavar="MD", help="with --export: prose to add to the model card"
    )
    p.set_defaults(func=run)


def parse_config(text: str) -> dict:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON when possible)."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise DerainError(f"--config entries look like key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value.strip()
    return out


def _export(args) -> int:
    from derain.train.export import export

    if not args.to:
        raise DerainError("--export needs --to FILE.safetensors")
    if not Path(args.export).exists():
        raise DerainError(f"checkpoint not found: {args.export}")
    notes = Path(args.card_notes).read_text() if args.card_notes else ""
    weights, card = export(args.export, args.to, notes=notes)
    print(f"wrote {weights} and its model card {card}")
    return 0


def run(args) -> int:
    if args.export:
        return _export(args)
    from derain.train import distributed as dist_utils
    from derain.train import recipes

    if args.out is None:
        raise DerainError("--out RUN_FOLDER is required")
    if args.val_clips < 0:
        raise DerainError(f"--val-clips must be >= 0, got {args.val_clips}")
    if args.continual and args.model != "rrgnet":
        raise DerainError("--continual trains RRGNet (use --model rrgnet)")
    try:
        (recipes.continual if args.continual else recipes.single)(args, parse_config(args.config))
    finally:
        # Under torchrun, a process group left alive at exit can abort the interpreter ("terminate
        # called without an active exception" from gloo's threads: seen in CI).
        dist_utils.cleanup()
    return 0
