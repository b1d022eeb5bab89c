"""Export a training checkpoint as shipped weights (safetensors) plus its model card (Markdown).

The card is written from what the checkpoint itself records (architecture, config, data, steps,
wall time, precision, validation PSNR), so it cannot drift from the weights; ``notes`` adds the
prose a person must write (lineage across stages, benchmark results).
"""

from __future__ import annotations

import math
import platform
import re
from pathlib import Path

import torch

from derain.models import load_model, save_weights


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


_TASK_DIR = re.compile(r"^(\d+)-(.+)$")


def continual_lineage(ckpt_path: str | Path) -> list[tuple[str, int, float, dict]]:
    """``(task, steps, wall seconds, data extras)`` of every task up to this checkpoint's in a continual run.

    A continual run writes ``<out>/continual/<k>-<task>/last.pt`` (``derain.train.continual``); for
    a checkpoint inside such a folder the earlier tasks' ``last.pt`` are read, so the card counts
    the whole sequence. Any other checkpoint gives ``[]``.
    """
    task_dir = Path(ckpt_path).resolve().parent
    match = _TASK_DIR.match(task_dir.name)
    if not match:
        return []
    index = int(match.group(1))
    tasks = []
    for k in range(index + 1):
        found = sorted(task_dir.parent.glob(f"{k}-*/last.pt"))
        if len(found) != 1:
            return []
        path = found[0] if k < index else Path(ckpt_path)
        ck = torch.load(path, map_location="cpu", weights_only=False)
        tasks.append(
            (
                _TASK_DIR.match(found[0].parent.name).group(2),
                int(ck.get("step", 0)),
                float(ck.get("wall_time", 0.0)),
                ck.get("extra", {}),
            )
        )
    return tasks


def _augmentations(extra: dict) -> str:
    """What a task's data added to plain rendered rain (``--scene-haze``, ``--dry``), or ``""``."""
    parts = []
    if extra.get("scene_haze"):
        parts.append(f"scene haze kept in the target on {extra['scene_haze']:.0%} of the clips")
    if extra.get("dry"):
        parts.append(f"{extra['dry']:.0%} of the clips dry (no rain)")
    return ", ".join(parts)


def model_card(ckpt: dict, *, name: str, notes: str = "", lineage: list | None = None) -> str:
    """Markdown model card for a checkpoint dict as saved by :class:`~derain.train.trainer.Trainer`.

    ``lineage``: :func:`continual_lineage` of the checkpoint; with two or more tasks the card's data,
    schedule and wall time describe the whole sequence.
    """
    cfg = ckpt.get("train_config", {})
    extra = ckpt.get("extra", {})
    history = ckpt.get("history", [])
    vals = [row for row in history if "val_psnr" in row]
    last_val = vals[-1] if vals else {}
    params = sum(v.numel() for v in ckpt["model"].values())
    optim = (
        f"global batch {cfg.get('batch_size')}, Adam, lr {cfg.get('lr')} -> {cfg.get('lr_min')} (held "
        f"for the first {cfg.get('decay_start', 0):.0%}), gradient clip {cfg.get('grad_clip')}, "
        f"precision {ckpt.get('precision')}, seed {cfg.get('seed')}"
    )
    clips = f"clips of {extra.get('frames')} frame(s), {extra.get('patch')}x{extra.get('patch')} patches"
    task_options = [(task, _augmentations(ex)) for task, _, _, ex in lineage or []] or [
        (None, _augmentations(extra))
    ]
    augmented = [f"{task}: {text}" if task else text for task, text in task_options if text]
    if augmented:
        clips += " (" + "; ".join(augmented) + ")"
    source = (
        f"rendered on the fly by derain's rain synthesizer from clean material "
        f"`{extra.get('clean', '?')}` (TRAIN split only; docs/rain.md)"
    )
    wall = ckpt.get("wall_time", 0)
    if lineage and len(lineage) > 1:
        names = [task for task, *_ in lineage]
        steps = [s for _, s, *_ in lineage]
        wall = sum(w for _, _, w, _ in lineage)
        per_task = f"{steps[0]} steps" if len(set(steps)) == 1 else "/".join(map(str, steps)) + " steps"
        data = f"{len(names)} rain types learned in sequence ({' -> '.join(names)}), {source}; {clips}."
        schedule = f"{len(names)} tasks, {per_task} each (the last task's settings: {optim})."
        wall_text = f"{wall / 60:.1f} min of training steps, all {len(names)} tasks,"
    else:
        data = f"rain types {extra.get('presets')} {source}; {clips}."
        schedule = f"{ckpt.get('step')} steps, {optim}."
        wall_text = f"{wall / 60:.1f} min of training steps"
    lines = [
        f"# Model card: `{name}`",
        "",
        f"- **Architecture**: `{ckpt['arch']}` {ckpt.get('model_config', {})}, {params:,} parameters.",
        "- **Trained by**: the derain project, on our own synthetic data (`derain train`).",
        f"- **Data**: {data}",
        f"- **Schedule**: {schedule}",
        f"- **Wall time**: {wall_text} on {_cpu_name()} (2 cores, shared with development work), "
        f"torch {torch.__version__}.",
    ]
    if last_val:
        val_input = last_val.get("val_psnr_input", float("nan"))
        # Before validation left the augmentations out, dry clips made the input's PSNR infinite:
        # such a figure is not comparable with other runs', so the card says so instead.
        where = f"at step {last_val['step']}" + (
            f" of the last task ({lineage[-1][0]})." if lineage and len(lineage) > 1 else "."
        )
        if math.isfinite(val_input):
            text = f"PSNR-Y {last_val['val_psnr']:.2f} dB, rainy input {val_input:.2f} dB, {where}"
        else:
            text = f"PSNR-Y {last_val['val_psnr']:.2f} dB on clips that included dry ones (no rain), {where}"
        lines.append(f"- **Validation** (held-out TRAIN-split clips, own seed): {text}")
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


def export(ckpt_path: str | Path, weights_path: str | Path, *, notes: str = "") -> tuple[Path, Path]:
    """Write ``weights_path`` (.safetensors) and the card next to it (same stem, ``.md``)."""
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model = load_model(ckpt_path)
    weights_path = Path(weights_path)
    save_weights(model, weights_path, extra={"source": Path(ckpt_path).name, "step": ckpt.get("step")})
    card = weights_path.with_suffix(".md")
    lineage = continual_lineage(ckpt_path)
    card.write_text(model_card(ckpt, name=weights_path.stem, notes=notes, lineage=lineage))
    return weights_path, card
