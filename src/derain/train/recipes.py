"""Training recipes behind ``derain train``: what data, objective and schedule each model gets.

- J4R-Net stage 1 (the paper's single-frame pre-training): first conv, extractor and R-Net on
  single frames (the other sub-networks frozen), 32x32 patches.
- J4R-Net stage 2: the whole network on 9-frame clips, from stage 1's weights (``--init``).
- RRGNet: 7-frame clips (a 5-frame window restores the 3 centre frames), 64x64 patches.
- RRGNet continual: see :mod:`derain.train.forgetting`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import Dataset

from derain.errors import DerainError
from derain.models import build_model
from derain.train.losses import J4RObjective, RestorationObjective
from derain.train.trainer import TrainConfig, Trainer
from derain.train.validation import make_validator

VAL_SEED_OFFSET = 10_007  # validation items never coincide with training items


def clip_shape(args: argparse.Namespace) -> tuple[int, int]:
    """(frames, patch) for the model/stage unless given on the command line."""
    if args.model == "j4rnet":
        frames = 1 if args.stage == 1 else 9
        patch = 32
    else:
        frames, patch = 7, 64
    return (args.frames or frames), (args.patch or patch)


def select_split(sources: list, split: str) -> list:
    """Sources of ``split`` when they come from the shared clean material; a user's own material
    (no known split) is used whole."""
    from derain.data.splits import split_of

    if any(split_of(s) is not None for s in sources):
        return [s for s in sources if split_of(s) == split]
    return sources


def training_sources(spec: str | None) -> list:
    """Clean sources for training: only the training split of the shared material."""
    from derain.data.sources import load_sources

    return select_split(load_sources(spec), "train")


def data_options(args) -> dict:
    """The training-only data options (``--scene-haze``, ``--dry``); absent ones are off."""
    return {"scene_haze": getattr(args, "scene_haze", 0.0), "dry": getattr(args, "dry", 0.0)}


def make_dataset(
    args,
    presets: list[str],
    *,
    frames: int,
    patch: int,
    length: int,
    seed: int,
    sources=None,
    augment: bool = True,
) -> Dataset:
    """The recipe's clips; ``augment=False`` leaves out --scene-haze and --dry (validation: plain rain)."""
    if args.data:
        if any(data_options(args).values()):
            raise DerainError(
                "--scene-haze and --dry change synthetic clips as they are rendered: drop them or --data"
            )
        from derain.data.folders import SynthFolderClips

        return SynthFolderClips(args.data, frames=frames, patch=patch, length=length, seed=seed)
    from derain.data.synthetic import SyntheticRainClips

    return SyntheticRainClips(
        sources=sources if sources is not None else training_sources(args.clean),
        presets=presets,
        frames=frames,
        patch=patch,
        length=length,
        seed=seed,
        **(data_options(args) if augment else {}),
    )


def base_config(args, out_dir: str | Path, steps: int | None = None, lr: float | None = None) -> TrainConfig:
    return TrainConfig(
        out_dir=str(out_dir),
        steps=steps or args.steps,
        batch_size=args.batch,
        lr=args.lr if lr is None else lr,
        lr_min=args.lr_min,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
        num_workers=args.workers,
        log_every=args.log_every,
        val_every=args.val_every,
        ckpt_every=max(1, min(args.ckpt_every, steps or args.steps)),
        threads=args.threads,
    )


def build_trainer(
    args: argparse.Namespace,
    model: torch.nn.Module,
    objective,
    presets: list[str],
    *,
    out_dir: str | Path,
    steps: int | None = None,
    data_seed: int | None = None,
    val_frames: int | None = None,
    extra: dict | None = None,
    lr: float | None = None,
) -> Trainer:
    """A Trainer on the recipe's training data for ``presets`` and a fixed validation set.

    Training items are ``steps x batch`` distinct clips (``data_seed``, default ``args.seed``);
    validation clips come from the same TRAIN material with their own seed and a larger patch.
    """
    frames, patch = clip_shape(args)
    cfg = base_config(args, out_dir, steps, lr)
    sources = None if args.data else training_sources(args.clean)
    data = make_dataset(
        args,
        presets,
        frames=frames,
        patch=patch,
        length=cfg.steps * cfg.batch_size,
        seed=args.seed if data_seed is None else data_seed,
        sources=sources,
    )
    validate = None
    if args.val_clips > 0:  # 0: no validation (a quick run, or a test)
        val = make_dataset(
            args,
            presets,
            frames=val_frames or frames,
            patch=max(patch, args.val_patch),
            length=args.val_clips,
            seed=args.seed + VAL_SEED_OFFSET,
            sources=sources,
            augment=False,  # scores comparable across runs (and dry clips have no finite input PSNR)
        )
        validate = make_validator(val, objective.predict, count=args.val_clips)
    info = {
        "presets": presets,
        "frames": frames,
        "patch": patch,
        "clean": args.clean or "bundled",
        "data": args.data,
        **data_options(args),
        **(extra or {}),
    }
    return Trainer(
        model=model,
        objective=objective,
        dataset=data,
        config=cfg,
        validate=validate,
        extra_state=info,
    )


def single(args: argparse.Namespace, model_config: dict) -> dict:
    """One training run (J4R-Net stage 1 or 2, or RRGNet on a fixed mix of rain types)."""
    presets = [p for p in args.presets.split(",") if p]
    if not presets:
        raise DerainError("--presets needs at least one rain type")
    frames, patch = clip_shape(args)
    torch.manual_seed(args.seed)  # the initial weights depend on the seed only
    if args.model == "j4rnet" and args.stage == 1:
        model_config = {**model_config, "single_frame": True}
    model = build_model(args.model, **model_config)
    if args.model == "j4rnet":
        objective = J4RObjective(single_frame=args.stage == 1)
        if args.stage == 1:
            # Freeze everything but the single-frame path so DDP and the optimizer agree.
            model.requires_grad_(False)
            for p in model.stage1_parameters():
                p.requires_grad_(True)
    else:
        objective = RestorationObjective()
    # Validation clips: longer than training clips for stage 2, so the recurrence shows.
    val_frames = frames if args.model == "rrgnet" or args.stage == 1 else max(frames, 9)
    trainer = build_trainer(
        args, model, objective, presets, out_dir=args.out, val_frames=val_frames, extra={"stage": args.stage}
    )
    last = Path(args.out) / "last.pt"
    if args.resume and last.exists():
        trainer.load(last)
    elif args.resume:
        raise DerainError(f"--resume: no checkpoint at {last}")
    elif last.exists():  # never train over a finished or interrupted run by accident
        raise DerainError(f"{args.out} already holds a run: pass --resume to continue it, or another --out")
    elif args.init:
        trainer.load(args.init, weights_only=True)
    return trainer.fit()


def continual(args: argparse.Namespace, model_config: dict) -> dict:
    from derain.train.forgetting import run_experiment

    return run_experiment(args, model_config)
