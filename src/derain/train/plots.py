"""Training-curve figure: loss (log scale) and validation PSNR-Y against steps."""

from __future__ import annotations

import csv
from pathlib import Path


def plot_training_curve(log_csv: str | Path, out_png: str | Path, *, title: str | None = None) -> Path | None:
    """Plot ``loss`` and ``val_psnr`` columns of a trainer's ``log.csv`` into a PNG (None if no rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return None
    steps = [int(r["step"]) for r in rows]
    loss = [float(r["loss"]) for r in rows]
    val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r.get("val_psnr")]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    ax.plot(steps, loss, color="tab:blue", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss", color="tab:blue")
    if val:
        ax2 = ax.twinx()
        ax2.plot([s for s, _ in val], [v for _, v in val], "o-", color="tab:red", ms=3)
        ax2.set_ylabel("validation PSNR-Y (dB)", color="tab:red")
    ax.set_title(title or Path(log_csv).parent.name)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return Path(out_png)


def forgetting_table(results: dict) -> str:
    """Markdown: the PSNR-Y matrix of each sequential strategy, plus average and BWT of all."""
    tasks = results["tasks"]
    lines = [
        f"Test PSNR-Y (dB) after each task; {results['steps_per_task']} steps per task, "
        f"review budget {results['review_budget']} clips ({results['review_mode']}).",
        "",
    ]
    lines += ["| rainy input | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    lines += ["| | " + " | ".join(f"{results['rainy_input'][t]:.2f}" for t in tasks) + " |", ""]
    for name in ("continual", "finetune"):
        if name not in results:
            continue
        lines += [f"**{name}** (row: after learning task; column: tested on)", ""]
        lines += ["| after \\ on | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        for task, row in zip(tasks, results[name]["matrix"], strict=False):
            lines.append(f"| {task} | " + " | ".join(f"{row[t]:.2f}" for t in tasks) + " |")
        lines.append("")
    finals = _final_scores(results)
    lines += ["**final models** (each strategy's model(s) at the end, on every task)", ""]
    lines += ["| strategy | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for name, vals in finals.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    lines += ["", "| strategy | average PSNR-Y | BWT (dB) |", "|---|---|---|"]
    for name in ("continual", "finetune", "joint", "specialist"):
        if name in results:
            bwt = results[name].get("bwt")
            lines.append(f"| {name} | {results[name]['avg']:.2f} | {'—' if bwt is None else f'{bwt:+.2f}'} |")
    return "\n".join(lines) + "\n"


def _final_scores(results: dict) -> dict[str, list[float]]:
    """Per-task PSNR-Y of each strategy's final model(s), in task order."""
    tasks, finals = results["tasks"], {}
    for name in ("continual", "finetune", "joint"):
        if name in results:
            finals[name] = [results[name]["matrix"][-1][t] for t in tasks]
    if "specialist" in results:
        finals["specialist"] = [results["specialist"]["scores"][t] for t in tasks]
    return finals


def write_forgetting_table(results: dict, out_md: str | Path) -> Path:
    """:func:`forgetting_table` written to ``out_md``."""
    Path(out_md).write_text(forgetting_table(results))
    return Path(out_md)


def plot_forgetting(results: dict, out_png: str | Path) -> Path:
    """Per-task PSNR-Y of each strategy's final model, and the continual/finetune trajectories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = results["tasks"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4), dpi=110)
    finals = {"rainy input": [results["rainy_input"][t] for t in tasks], **_final_scores(results)}
    width = 0.8 / len(finals)
    x = np.arange(len(tasks))
    for i, (name, vals) in enumerate(finals.items()):
        ax1.bar(x + i * width, vals, width, label=name)
    ax1.set_xticks(x + 0.4 - width / 2, tasks)
    ax1.set_ylabel("PSNR-Y (dB) after the last task")
    lo = min(min(v) for v in finals.values())
    ax1.set_ylim(lo - 2, None)
    ax1.legend(fontsize=8)
    for name, style in (("continual", "-"), ("finetune", "--")):
        if name not in results:
            continue
        matrix = results[name]["matrix"]
        for j, task in enumerate(tasks):
            xs = list(range(j, len(matrix)))
            ax2.plot(xs, [matrix[i][task] for i in xs], style, color=f"C{j}", label=f"{task} ({name})")
    ax2.set_xticks(range(len(tasks)), [f"after {t}" for t in tasks], rotation=20)
    ax2.set_ylabel("PSNR-Y (dB)")
    ax2.set_title("solid: continual (distillation + review), dashed: fine-tuning")
    ax2.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
    return Path(out_png)
