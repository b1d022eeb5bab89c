"""Export a training checkpoint as shipped weights (safetensors) plus its model card (Markdown).

The card is written from what the checkpoint itself records (architecture, config, data, steps,
wall time, precision, validation PSNR), so it cannot drift from the weights; ``notes`` adds the
prose a person must write (lineage across stages, benchmark results).
"""

from __future__ import annotations

import platform
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


def model_card(ckpt: dict, *, name: str, notes: str = "") -> str:
    """Markdown model card for a checkpoint dict as saved by :class:`~derain.train.trainer.Trainer`."""
    cfg = ckpt.get("train_config", {})
    extra = ckpt.get("extra", {})
    history = ckpt.get("history", [])
    vals = [row for row in history if "val_psnr" in row]
    last_val = vals[-1] if vals else {}
    params = sum(v.numel() for v in ckpt["model"].values())
    lines = [
        f"# Model card: `{name}`",
        "",
        f"- **Architecture**: `{ckpt['arch']}` {ckpt.get('model_config', {})}, {params:,} parameters.",
        "- **Trained by**: the derain project, on our own synthetic data (`derain train`).",
        f"- **Data**: rain types {extra.get('presets')} rendered on the fly by derain's rain synthesizer "
        f"from clean material `{extra.get('clean', '?')}` (TRAIN split only; docs/rain.md); clips of "
        f"{extra.get('frames')} frame(s), {extra.get('patch')}x{extra.get('patch')} patches.",
        f"- **Schedule**: {ckpt.get('step')} steps, global batch {cfg.get('batch_size')}, Adam, lr "
        f"{cfg.get('lr')} -> {cfg.get('lr_min')} (held for the first {cfg.get('decay_start', 0):.0%}), "
        f"gradient clip {cfg.get('grad_clip')}, precision {ckpt.get('precision')}, seed {cfg.get('seed')}.",
        f"- **Wall time**: {ckpt.get('wall_time', 0) / 60:.1f} min of training steps on {_cpu_name()} "
        f"(2 cores, shared with development work), torch {torch.__version__}.",
    ]
    if last_val:
        lines.append(
            f"- **Validation** (held-out TRAIN-split clips, own seed): PSNR-Y {last_val['val_psnr']:.2f} dB, "
            f"rainy input {last_val.get('val_psnr_input', float('nan')):.2f} dB, at step {last_val['step']}."
        )
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
    card.write_text(model_card(ckpt, name=weights_path.stem, notes=notes))
    return weights_path, card
