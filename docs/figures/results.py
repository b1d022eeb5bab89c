"""Reproduce docs/results.md: every method on the standard benchmark, plus the J4R-Net figures.

    python docs/figures/results.py --clean ../shared/data/clean

1. Builds the standard benchmark (TEST split only, fixed seeds; see docs/rain.md) into
   ``--bench`` unless it is there already.
2. Runs ``derain eval`` on every rain type with: the rainy input, the temporal median, the J4R-Net
   stage-1 single-frame model, full J4R-Net (light and complex, as in the paper) and RRGNet
   (every type). Scores: PSNR-Y / SSIM-Y / flicker, first and last 2 frames dropped.
3. Draws J4R-Net's estimated occlusion map against the true alpha, and B^ against B.
4. Copies the continual-learning experiment's table and plot (``--forgetting``, the run that
   produced the shipped ``rrgnet``) into the page.

Each part replaces its own section of docs/results.md (between ``<!-- name:begin/end -->``
markers); the prose around them is written by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
J4R_TYPES = ("light", "complex")
LABELS = {
    "identity": "rainy input",
    "median": "temporal median (5)",
    "j4rnet-single": "J4R-Net stage 1 (single frame)",
    "j4rnet": "J4R-Net (full)",
    "rrgnet": "RRGNet (one weight, continual)",
}


def methods_for(preset: str, available: set[str]) -> list[str]:
    wanted = (
        ["identity", "median", "j4rnet-single", "j4rnet", "rrgnet"]
        if preset in J4R_TYPES
        else ["identity", "median", "rrgnet"]
    )
    return [m for m in wanted if m in ("identity", "median") or m in available]


def run_eval(bench: Path, out: Path, available: set[str], presets: list[str]) -> dict:
    from derain.evaluate import evaluate, resolve_method

    results = {}
    out.mkdir(parents=True, exist_ok=True)
    for preset in presets:
        names = methods_for(preset, available)
        methods = [resolve_method(n) for n in names]
        print(f"[{preset}] {', '.join(names)}", file=sys.stderr, flush=True)
        results[preset] = evaluate(
            bench / preset,
            methods,
            out_dir=out / preset,
            drop_ends=2,
            overwrite=True,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    return results


def table(results: dict) -> list[str]:
    lines = [
        "| rain type | method | PSNR-Y (dB) | SSIM-Y | flicker | gain over input (dB) | frames/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for preset, report in results.items():
        means = {row["method"]: row for row in report["mean"]}
        base = means["identity"]["psnr_y"]
        for name, row in means.items():
            lines.append(
                f"| {preset} | {LABELS.get(name, name)} | {row['psnr_y']:.2f} | {row['ssim_y']:.4f} | "
                f"{row['flicker_y']:.2f} | {row['psnr_y'] - base:+.2f} | {row['fps']:.1f} |"
            )
    return lines


def forgetting_section(path: Path) -> str:
    """The continual run's matrix, summary against the issue's targets, and its plot."""
    import shutil

    from derain.train.forgetting import STRATEGIES
    from derain.train.plots import forgetting_table

    res = json.loads(path.read_text())
    plot = path.with_name("forgetting.png")  # written when the experiment finishes
    if not plot.exists():
        raise SystemExit(f"{plot} is missing: has the continual experiment finished?")
    shutil.copyfile(plot, DOCS / "img" / "rrgnet_forgetting.png")
    cont = res["continual"]
    run = path.resolve().parent
    run = run.relative_to(ROOT) if run.is_relative_to(ROOT) else run
    # Constructor keywords that differ from today's defaults go into the command (older runs
    # predate RRGNet's context layer); they are read from the first task's config.
    from derain.models import RRGNet, config_flag

    first = path.parent / "continual" / f"0-{res['tasks'][0]}" / "config.json"
    saved = json.loads(first.read_text())["model_config"] if first.exists() else {}
    flag = config_flag("rrgnet", saved, RRGNet().config) if saved else ""
    config = f" {flag}" if flag else ""
    # Training-only data options of the last task (--scene-haze, --dry) belong in the command too.
    last = path.parent / "continual" / f"{len(res['tasks']) - 1}-{res['tasks'][-1]}" / "config.json"
    extra = json.loads(last.read_text()).get("extra", {}) if last.exists() else {}
    for key in ("scene_haze", "dry"):
        if extra.get(key):
            config += f" --{key.replace('_', '-')} {extra[key]}"
    note = path.with_name("NOTE.md")  # how a run that reused another run's tasks was made
    lines = [
        f"Run `{run}`: tasks {' -> '.join(res['tasks'])}, TEST-split clips never",
        "used in training (6 clips x 9 frames x 128x128 per rain type, fixed seeds), PSNR-Y on 8-bit",
        # Runs before --task-lr/--replay-fraction existed used lr 1e-3 throughout and half-size replay.
        f"frames. First task at lr {res.get('lr_first_task', 1e-3)}, later tasks at "
        f"{res.get('lr_later_tasks', 1e-3)}; replay fraction {res.get('replay_fraction', 0.5)}.",
        "",
        f"Reproduce: `derain train --model rrgnet{config} --continual --tasks "
        f"{','.join(res['tasks'])} --steps {res['steps_per_task']} --batch 16 --review-budget "
        f"{res['review_budget']} --task-lr {res.get('lr_later_tasks', 1e-3)} --replay-fraction "
        f"{res.get('replay_fraction', 0.5)} --clean ../shared/data/clean --val-clips 8 --out "
        f"{run} --compare {','.join(k for k in STRATEGIES if k in res)}`.",
        *(["", note.read_text().strip()] if note.exists() else []),
        "",
        forgetting_table(res),
        f"- Continual BWT {cont['bwt']:+.2f} dB (target >= -0.30).",
    ]
    if "joint" in res:
        lines.append(
            f"- Final average {cont['avg']:.2f} dB against joint training's {res['joint']['avg']:.2f} dB "
            f"(gap {cont['avg'] - res['joint']['avg']:+.2f} dB; target within 0.5 dB)."
        )
    if "finetune" in res:
        ft = res["finetune"]
        lines.append(f"- Plain fine-tuning: BWT {ft['bwt']:+.2f} dB, average {ft['avg']:.2f} dB.")
    if "specialist" in res:
        sp = res["specialist"]["avg"]
        lines.append(
            f"- Per-task specialists (one weight per rain type): average {sp:.2f} dB; the one continual "
            f"weight is {cont['avg'] - sp:+.2f} dB from them."
        )
    return "\n".join([*lines, "", "![forgetting](img/rrgnet_forgetting.png)"])


def alpha_figure(bench: Path, out_png: Path, *, clip_index: int = 0, frames=(6, 10, 14)) -> None:
    """Rows: rainy O, true alpha, J4R-Net's p(alpha=1), J4R-Net's B^, clean B (complex rain)."""
    import torch

    from derain.io import FrameReader, write_image
    from derain.models import load_model

    folder = bench / "complex"
    clip = sorted(p.name for p in (folder / "input").iterdir())[clip_index]

    def read(layer: str) -> np.ndarray:
        with FrameReader(folder / layer / clip) as reader:
            return np.stack(list(reader))

    rainy, clean, alpha = read("input"), read("gt"), read("alpha")
    model = load_model("j4rnet")
    x = torch.from_numpy(rainy).permute(0, 3, 1, 2).float().div(255)[None]
    with torch.no_grad():
        out = model(x)
    p_occ = torch.softmax(out["alpha_logits"][0].float(), 1)[:, 1].numpy()
    derained = (out["clean"][0].clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    rows = []
    for t in frames:
        grey = lambda a: np.repeat((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, -1)  # noqa: E731
        rows.append(np.concatenate([rainy[t], alpha[t], grey(p_occ[t]), derained[t], clean[t]], axis=1))
    write_image(out_png, np.concatenate(rows, axis=0)[::2, ::2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", required=True, help="the shared clean folder (with manifest.csv)")
    parser.add_argument("--bench", default=str(ROOT / ".cache" / "standard-benchmark"))
    parser.add_argument("--presets", default="light,complex,drizzle,storm,downpour")
    parser.add_argument(
        "--forgetting",
        default=str(ROOT / "runs" / "rrgnet-dry" / "forgetting.json"),
        help="forgetting.json of the continual run behind the shipped rrgnet",
    )
    parser.add_argument(
        "--sections",
        default="standard,forgetting",
        help="which sections to rebuild (forgetting alone re-reads the run and evaluates nothing)",
    )
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    if not sections <= {"standard", "forgetting"}:
        parser.error(f"--sections takes standard and/or forgetting, got {args.sections}")
    from derain.data.splits import build_standard_benchmark
    from derain.models import shipped_weights
    from derain.report import update_section

    forgetting = Path(args.forgetting)
    if sections == {"forgetting"} and not forgetting.exists():
        parser.error(f"no continual run at {forgetting}")
    if "forgetting" in sections and forgetting.exists():
        update_section(DOCS / "results.md", "forgetting", forgetting_section(forgetting), title="# Results\n")
    if "standard" not in sections:
        return
    bench = Path(args.bench)
    if not (bench / "index.json").exists() and not (bench / "light").exists():
        print(f"building the standard benchmark in {bench} ...", file=sys.stderr)
        bench.parent.mkdir(parents=True, exist_ok=True)
        build_standard_benchmark(args.clean, bench)
    presets = args.presets.split(",")
    results = run_eval(bench, ROOT / ".cache" / "results", set(shipped_weights()), presets)
    (DOCS / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (DOCS / "img").mkdir(exist_ok=True)
    if "j4rnet" in shipped_weights():
        alpha_figure(bench, DOCS / "img" / "j4rnet_alpha.png")
    body = [
        "Standard benchmark (docs/rain.md): per rain type 10 clips x 20 frames at 480x270, rendered from",
        "the TEST split only (clean clips never used in training), fixed seeds. PSNR/SSIM on Y (BT.601,",
        "MATLAB convention), float64, frames averaged per clip then clips averaged; the first and last 2",
        "frames of each clip are dropped; flicker = mean |(y_t - y_t-1) - (g_t - g_t-1)| on Y (lower is",
        "better). frames/s: the method alone on this machine (see docs/benchmarks.md for proper speed",
        "figures). Reproduce: `python docs/figures/results.py --clean ../shared/data/clean`.",
        "",
        *table(results),
    ]
    if "j4rnet" in shipped_weights():
        body += [
            "",
            "J4R-Net on complex rain: rainy input | true alpha | J4R-Net's P(alpha = 1) | J4R-Net's output |",
            "clean (frames 6, 10, 14 of the first test clip, half size):",
            "",
            "![alpha](img/j4rnet_alpha.png)",
        ]
    update_section(DOCS / "results.md", "standard", "\n".join(body), title="# Results\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
