"""Reports of :func:`derain.evaluate.evaluate`: Markdown, JSON, CSV, a bar plot and crop figures.

The report folder holds ``report.md``, ``report.json``, ``report.csv``, ``scores.png`` (mean
PSNR/SSIM per method) and ``crops/<clip>.png`` (input | each method | ground truth, one crop of
the middle frame). It is written under a temporary name and renamed when complete. In JSON,
non-finite numbers become ``null`` (standard JSON has no ``inf``): a PSNR of ``null`` means
identical frames (``inf``), a flicker of ``null`` a clip of one frame.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from derain.errors import DerainError

__all__ = [
    "COLUMNS",
    "update_section",
    "check_out_dir",
    "cut_crops",
    "json_safe",
    "format_value",
    "format_table",
    "write_report",
]

# (key, header) of the human-readable tables; JSON and CSV carry every key.
COLUMNS = (
    ("psnr_y", "PSNR-Y"),
    ("ssim_y", "SSIM-Y"),
    ("psnr_rgb", "PSNR-RGB"),
    ("ssim_rgb", "SSIM-RGB"),
    ("flicker_y", "flicker-Y"),
    ("fps", "frames/s"),
)
_CSV_KEYS = (
    "clip",
    "method",
    "frames",
    "psnr_y",
    "ssim_y",
    "flicker_y",
    "psnr_rgb",
    "ssim_rgb",
    "flicker_rgb",
    "fps",
)


def update_section(path: str | os.PathLike, name: str, body: str, *, title: str = "") -> Path:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in a Markdown file.

    The section is appended when absent (and the file created, starting with ``title``), so a
    generated table can live in a page whose other sections are written by people or other scripts.
    """
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else title
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    return path


def check_out_dir(out_dir: str | os.PathLike, *, overwrite: bool) -> Path:
    """Fail early (before any work) if the report folder cannot be written."""
    out = Path(out_dir)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise DerainError(f"output exists: {out} (use --overwrite to replace it)")
    if out.exists() and not out.is_dir():
        raise DerainError(f"output is not a folder: {out}")
    if not out.absolute().parent.is_dir():
        raise DerainError(f"output folder does not exist: {out.absolute().parent}")
    return out


def json_safe(obj):
    """A copy with non-finite floats as ``None`` and paths as strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj


def format_value(key: str, value) -> str:
    """Table text for one cell: PSNR 2 decimals, SSIM 4, flicker 3, frames/s 1."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        digits = 4 if key.startswith("ssim") else 3 if key.startswith("flicker") else 1 if key == "fps" else 2
        return f"{value:.{digits}f}"
    return str(value)


def format_table(rows: Sequence[Mapping], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table with padded columns (readable as plain text too)."""
    cells = [[h for _, h in columns]] + [[format_value(k, r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    numeric = [all(_is_number(r.get(k)) for r in rows) for k, _ in columns]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if n else ("-" * (w + 2)) for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _is_number(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _markdown(result: Mapping, crops: Sequence[str]) -> str:
    opts = result["options"]
    drop = opts["drop_ends"]
    n_clips = len({r["clip"] for r in result["clips"]})
    lines = [
        f"# derain evaluation: {Path(result['data']).name}",
        "",
        f"Data: `{result['data']}` (layout `{result['layout']}`, {n_clips} clips); "
        f"methods: {', '.join(result['methods'])}.",
        "",
        f"Conventions: {result['conventions']}. "
        + (
            f"The first and last {drop} frames of each clip are dropped. "
            if drop
            else "All frames are scored. "
        )
        + "Frames/s times the method alone (its generator, less input decoding), on "
        f"{platform.machine() or 'unknown'} with {os.cpu_count()} CPU threads.",
    ]
    if result.get("skipped_clips"):
        lines += ["", f"Skipped (no ground truth): {', '.join(result['skipped_clips'])}."]
    mean_cols = [("method", "method"), ("clips", "clips"), ("frames", "frames"), *COLUMNS]
    clip_cols = [("clip", "clip"), ("method", "method"), ("frames", "frames"), *COLUMNS]
    lines += [
        "",
        "## Mean over clips",
        "",
        format_table(result["mean"], mean_cols),
        "",
        "![scores](scores.png)",
    ]
    lines += ["", "## Per clip", "", format_table(result["clips"], clip_cols)]
    if crops:
        lines += ["", "## Crops of the middle frame", ""]
        lines += [f"![{name}](crops/{name}.png)" for name in crops]
    return "\n".join(lines) + "\n"


def _bar_plot(result: Mapping, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Figure + Agg canvas directly: no pyplot, so no global backend or state is touched.
    fig = Figure(figsize=(4 + 1.2 * len(result["methods"]), 3.6), dpi=110)
    FigureCanvasAgg(fig)
    methods = result["methods"]
    x = np.arange(len(methods))
    for ax, metric, label in zip(fig.subplots(1, 2), ("psnr", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
        for j, ch in enumerate(("y", "rgb")):
            vals = [m[f"{metric}_{ch}"] for m in result["mean"]]
            vals = [v if v is not None and math.isfinite(v) else math.nan for v in vals]
            bars = ax.bar(x + (j - 0.5) * 0.38, vals, width=0.38, label=ch.upper())
            ax.bar_label(bars, fmt="%.2f" if metric == "psnr" else "%.3f", fontsize=7, padding=1)
        finite = [m[f"{metric}_{c}"] for m in result["mean"] for c in ("y", "rgb")]
        finite = [v for v in finite if v is not None and math.isfinite(v)]
        # Bars start at zero (a cut axis exaggerates gaps; the labels give exact values); the
        # headroom keeps the legend clear of the bars.
        ax.set_ylim(0, 1.25 * max(finite) if finite else 1)
        ax.set_xticks(x, methods, rotation=20 if len(methods) > 3 else 0)
        ax.set_title(f"mean {label}")
        ax.legend(fontsize=8, loc="upper left", ncols=2)
    fig.suptitle(Path(result["data"]).name, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def _crop_box(inp: np.ndarray, gt: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` square where the input differs most from GT (the rain)."""
    diff = np.abs(inp.astype(np.float32) - gt.astype(np.float32)).sum(axis=2)
    h, w = diff.shape
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, size // 4)
    best, corner = -1.0, (0, 0)
    # A grid of corners, the far edges included.
    ys = sorted(set(range(0, h - size + 1, step)) | {h - size})
    xs = sorted(set(range(0, w - size + 1, step)) | {w - size})
    for y in ys:
        for x in xs:
            s = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
            if s > best:
                best, corner = s, (y, x)
    return corner


def cut_crops(frames: Mapping[str, np.ndarray], *, crop_border: int = 0, size: int = 192) -> dict | None:
    """Reduce a clip's middle frames to what its crop figure needs (a few KB, not whole frames).

    ``frames``: ``{"input", <method>..., "ground truth"}`` -> ``(H, W, 3)`` uint8. Returns
    ``{"x", "y", "size", "panels": [(label, crop, PSNR-Y of the whole frame or None)]}`` with
    input first and ground truth last, or ``None`` if the input or GT frame is missing.
    """
    from derain.metrics import psnr

    if "input" not in frames or "ground truth" not in frames:
        return None
    gt = frames["ground truth"]
    size = min(gt.shape[0], gt.shape[1], size)
    y, x = _crop_box(frames["input"], gt, size)
    names = ["input"] + [n for n in frames if n not in ("input", "ground truth")] + ["ground truth"]
    panels = []
    for name in names:
        value = None if name == "ground truth" else float(psnr(frames[name], gt, crop_border=crop_border))
        panels.append((name, np.ascontiguousarray(frames[name][y : y + size, x : x + size]), value))
    return {"x": x, "y": y, "size": size, "panels": panels}


def _crop_figure(clip: str, crop: Mapping, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = crop["panels"]
    fig = Figure(figsize=(2.3 * len(panels), 3.0), dpi=110)
    FigureCanvasAgg(fig)
    for ax, (name, img, value) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(name if value is None else f"{name}\nPSNR-Y {value:.2f} dB", fontsize=9)
        ax.set_axis_off()
    size = crop["size"]
    fig.suptitle(f"{clip}: middle frame, {size}x{size} crop at x={crop['x']}, y={crop['y']}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path)


def write_report(
    result: Mapping,
    out_dir: str | os.PathLike,
    *,
    crops: Mapping[str, Mapping | None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the report folder atomically; ``crops``: clip -> :func:`cut_crops` result."""
    from derain.io import atomic_output

    out = check_out_dir(out_dir, overwrite=overwrite)
    crops = {k: v for k, v in (crops or {}).items() if v}
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        (tmp / "report.md").write_text(_markdown(result, list(crops)), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
        with open(tmp / "report.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=_CSV_KEYS, extrasaction="ignore")
            writer.writeheader()
            for row in result["clips"]:
                writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
            for row in result["mean"]:
                writer.writerow(
                    {"clip": "mean", **{k: repr(v) if isinstance(v, float) else v for k, v in row.items()}}
                )
        _bar_plot(result, tmp / "scores.png")
        if crops:
            (tmp / "crops").mkdir()
            for clip, crop in crops.items():
                _crop_figure(clip, crop, tmp / "crops" / f"{clip}.png")
    return out
