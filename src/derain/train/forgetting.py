"""The continual-learning experiment: learn rain types in sequence and measure forgetting.

Strategies, all on the same model, data and per-task step budget:

- ``continual``: the RRGNet recipe: distillation from the previous task's frozen model plus the
  rain review (bounded replay of old tasks' rain layers);
- ``finetune``: plain sequential fine-tuning (shows forgetting);
- ``joint``: one run on all tasks at once with the total budget (the upper bound);
- ``specialist``: one model per task (what a single weight per rain type would give).

After each task every model is scored (PSNR-Y) on every task's test set: ``R[i][j]`` is the score on
task ``j`` after learning task ``i``. Average PSNR = mean of the last row; backward transfer
``BWT = mean_j<K-1 (R[K-1][j] - R[j][j])`` (negative = forgetting). Results go to
``forgetting.json`` / ``forgetting.md`` / ``forgetting.png`` in the run folder, and the
continual model is exported as ``rrgnet.safetensors``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from derain import runtime
from derain.errors import DerainError
from derain.metrics import psnr
from derain.models import build_model, save_weights
from derain.train.continual import ContinualObjective, RainReview, freeze_teacher
from derain.train.recipes import build_trainer, select_split
from derain.train.validation import to_uint8_frames

STRATEGIES = ("continual", "finetune", "joint", "specialist")
TEST_SEED = 20_231  # fixed: the continual test sets are the same for every run


def make_test_sets(tasks: list[str], clean: str | None, *, clips: int = 6, frames: int = 9, size: int = 128):
    """One fixed test batch per task, rendered from the *test* split's clean material."""
    from derain.data.sources import load_sources
    from derain.data.synthetic import SyntheticRainClips

    sources = select_split(load_sources(clean), "test")
    out = {}
    for k, task in enumerate(tasks):
        ds = SyntheticRainClips(
            sources=sources, presets=[task], frames=frames, patch=size, length=clips, seed=TEST_SEED + k
        )
        items = [ds[i] for i in range(clips)]
        out[task] = {key: torch.stack([it[key] for it in items]) for key in ("rainy", "clean")}
    return out


def score(model: torch.nn.Module, test_sets: dict, *, device: str = "auto", precision: str = "auto") -> dict:
    """Mean PSNR-Y (dB) of ``model`` on each task's test clips (every frame, ends padded)."""
    dev = next(model.parameters()).device
    prec = runtime.resolve_precision(precision, dev)
    model.eval()
    scores = {}
    with torch.no_grad(), runtime.autocast(dev, prec):
        for task, batch in test_sets.items():
            pred = model(batch["rainy"].to(dev), pad=True)
            scores[task] = float(psnr(to_uint8_frames(pred), to_uint8_frames(batch["clean"])).mean())
    return scores


def _train_task(args, model, objective, presets, out_dir: Path, steps: int, lr: float | None = None) -> None:
    """Train ``model`` in place for ``steps`` on ``presets``; reuse a finished run in ``out_dir``."""
    last = out_dir / "last.pt"
    trainer = build_trainer(
        args,
        model,
        objective,
        presets,
        out_dir=out_dir,
        steps=steps,
        data_seed=args.seed + hash_task(presets),
        lr=lr,
    )
    if last.exists():
        saved = trainer.load(last).get("lr")
        if saved != trainer.cfg.lr:
            # A reused task must have been trained as this experiment says it was.
            raise DerainError(
                f"{last} was trained at lr {saved}, this run asks for {trainer.cfg.lr} "
                "(pass the run's --lr/--task-lr, or use a new --out)"
            )
        if trainer.step >= steps:
            return
    trainer.fit()


def hash_task(presets: list[str]) -> int:
    """A stable per-task seed offset (Python's hash() is salted per process)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(",".join(presets))) * 101


def _fresh_model(args, model_config: dict) -> torch.nn.Module:
    torch.manual_seed(args.seed)  # every strategy starts from the same initial weights
    return build_model("rrgnet", **model_config)


def _later_lr(args) -> float:
    """Peak learning rate of every task after the first (``--task-lr``, else ``--lr``)."""
    return args.lr if args.task_lr is None else args.task_lr


def _reuse_first_task(continual_dir: Path, task_dir: Path) -> None:
    """Start fine-tuning (or the first specialist) from the continual run's finished first task.

    The first task is the same recipe in both: same initial weights, data and schedule, no teacher
    yet, and a review that only collects (it draws nothing while no old task exists, from its own
    generator). Retraining it would differ only by floating-point nondeterminism (measured: light
    33.61 vs 33.93 dB after two runs of it), so copying the checkpoint saves one task's training per
    comparison and makes both sequences start from the very same model.
    """
    src, dst = continual_dir / "last.pt", task_dir / "last.pt"
    if src.exists() and not dst.exists():
        task_dir.mkdir(parents=True, exist_ok=True)
        # Every torchrun rank may copy: each writes its own temporary file and renames it, so no
        # rank ever reads a half-written checkpoint.
        tmp = dst.with_name(f".last.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def _sequence(args, model_config, tasks, test_sets, out: Path, *, continual: bool) -> list[dict]:
    model = _fresh_model(args, model_config)
    review = (
        RainReview(budget=args.review_budget, mode=args.review_mode, seed=args.seed) if continual else None
    )
    rows = []
    name = "continual" if continual else "finetune"
    for k, task in enumerate(tasks):
        task_dir = out / name / f"{k}-{task}"
        teacher = freeze_teacher(model) if continual and k > 0 else None
        # review.pt is written when a task completes: a rerun restores it instead of collecting again.
        saved_review = task_dir / "review.pt"
        finished_before = saved_review.exists()
        if review is not None:
            review.start_task(task)
        if not continual and k == 0:
            _reuse_first_task(out / "continual" / f"0-{task}", task_dir)
        objective = ContinualObjective(teacher=teacher, review=review, replay_fraction=args.replay_fraction)
        # Later tasks start from a trained model: a lower peak rate moves it less far from what it
        # knew (fine-tuning gets the same schedule, so the comparison isolates review + teacher).
        lr = args.lr if k == 0 else _later_lr(args)
        _train_task(args, model, objective, [task], task_dir, args.steps, lr)
        if review is not None:
            if finished_before:
                review.load_state_dict(torch.load(saved_review, weights_only=False))
            else:
                task_dir.mkdir(parents=True, exist_ok=True)
                torch.save(review.state_dict(), saved_review)
        rows.append(score(model, test_sets, precision=args.precision))
        print(f"[{name}] after {task}: " + ", ".join(f"{t} {v:.2f}" for t, v in rows[-1].items()), flush=True)
    if continual:
        save_weights(
            model,
            out / "rrgnet.safetensors",
            extra={"tasks": tasks, "review_budget": args.review_budget, "steps_per_task": args.steps},
        )
    return rows


def summarize(matrix: list[dict], tasks: list[str]) -> dict:
    """Average PSNR of the final row and backward transfer of a task-by-task matrix."""
    last = matrix[-1]
    avg = sum(last[t] for t in tasks) / len(tasks)
    if len(matrix) < len(tasks):
        return {"avg": avg, "bwt": None}
    bwt = sum(last[t] - matrix[i][t] for i, t in enumerate(tasks[:-1])) / max(1, len(tasks) - 1)
    return {"avg": avg, "bwt": bwt}


def run_experiment(args, model_config: dict, *, test_clips: int = 6, test_size: int = 128) -> dict:
    tasks = [t for t in args.tasks.split(",") if t]
    strategies = [s for s in args.compare.split(",") if s]
    unknown = set(strategies) - set(STRATEGIES)
    if unknown or "continual" not in strategies:
        raise DerainError(
            f"--compare takes {', '.join(STRATEGIES)} and must include continual; got {args.compare}"
        )
    if len(tasks) < 2:
        raise DerainError("--tasks needs at least two rain types for continual learning")
    if not args.replay_fraction > 0 or (args.task_lr is not None and not args.task_lr > 0):
        raise DerainError(
            f"--replay-fraction and --task-lr must be positive, got {args.replay_fraction} and {args.task_lr}"
        )
    out = Path(args.out)
    test_sets = make_test_sets(tasks, args.test_clean or args.clean, clips=test_clips, size=test_size)
    inputs = {
        t: float(psnr(to_uint8_frames(b["rainy"]), to_uint8_frames(b["clean"])).mean())
        for t, b in test_sets.items()
    }
    results: dict = {
        "tasks": tasks,
        "rainy_input": inputs,
        "steps_per_task": args.steps,
        "review_budget": args.review_budget,
        "review_mode": args.review_mode,
        "replay_fraction": args.replay_fraction,
        "lr_first_task": args.lr,
        "lr_later_tasks": _later_lr(args),
    }
    for strategy in strategies:
        if strategy in ("continual", "finetune"):
            matrix = _sequence(args, model_config, tasks, test_sets, out, continual=strategy == "continual")
            results[strategy] = {"matrix": matrix, **summarize(matrix, tasks)}
        elif strategy == "joint":
            model = _fresh_model(args, model_config)
            _train_task(args, model, ContinualObjective(), tasks, out / "joint", args.steps * len(tasks))
            row = score(model, test_sets, precision=args.precision)
            results["joint"] = {"matrix": [row], **summarize([row], tasks)}
        else:
            diag = {}
            for k, task in enumerate(tasks):
                model = _fresh_model(args, model_config)
                if k == 0:  # the first specialist is the continual run's first task, same recipe
                    _reuse_first_task(out / "continual" / f"0-{task}", out / "specialist" / task)
                _train_task(args, model, ContinualObjective(), [task], out / "specialist" / task, args.steps)
                diag[task] = score(model, {task: test_sets[task]}, precision=args.precision)[task]
            results["specialist"] = {"scores": diag, "avg": sum(diag.values()) / len(diag)}
        (out / "forgetting.json").write_text(json.dumps(results, indent=2))
    from derain.train.plots import plot_forgetting, write_forgetting_table

    plot_forgetting(results, out / "forgetting.png")
    write_forgetting_table(results, out / "forgetting.md")
    return results
