"""``derain eval DATA``: run methods over a deraining data set and write a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derain.commands.score import non_negative


def _positive(text: str) -> int:
    value = non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval",
        help="evaluate methods on a data set and write a report",
        description=(
            "Run each method over each clip of DATA and score it against the ground truth (PSNR/SSIM on Y "
            "and RGB, flicker, frames/s). Layouts: RainSynLight25/Complex25 {input,processed}/<clip>/, "
            "NTURain <clip>_Rain/ beside <clip>_GT/, generic input/ + gt/ (derain synth output), each "
            "possibly under test/. Writes report.md, report.json, report.csv, scores.png and crops/."
        ),
    )
    p.add_argument("data", metavar="DATA", help="data-set folder")
    p.add_argument(
        "--methods",
        default="identity,median",
        help="comma-separated: identity, median (median7 or median:7 for a window of 7), or a model "
        "name/checkpoint (default: identity,median)",
    )
    p.add_argument("--out", metavar="DIR", help="report folder (default: ./eval-<DATA name>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    p.add_argument(
        "--crop-border", type=non_negative, default=0, metavar="N", help="ignore N pixels at each edge"
    )
    p.add_argument(
        "--drop-ends",
        type=non_negative,
        default=0,
        metavar="N",
        help="ignore the first and last N frames of each clip",
    )
    p.add_argument("--max-clips", type=_positive, metavar="N", help="only the first N clips (natural order)")
    p.add_argument("--median-window", type=_positive, metavar="N", help="window of 'median' (odd; default 5)")
    p.add_argument("--device", help="device for model methods (e.g. cpu, cuda)")
    p.add_argument("--precision", help="precision for model methods (e.g. fp32, fp16, bf16)")
    p.add_argument("--no-crops", action="store_true", help="skip the before/after crop figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from derain.evaluate import evaluate, parse_methods
    from derain.report import COLUMNS, format_table

    out = Path(args.out) if args.out else Path(f"eval-{Path(args.data).resolve().name}")
    result = evaluate(
        args.data,
        parse_methods(args.methods),
        out_dir=out,
        drop_ends=args.drop_ends,
        crop_border=args.crop_border,
        max_clips=args.max_clips,
        overwrite=args.overwrite,
        median_window=args.median_window,
        device=args.device,
        precision=args.precision,
        crops=not args.no_crops,
        log=None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True)),
    )
    print(
        format_table(
            result["mean"], [("method", "method"), ("clips", "clips"), ("frames", "frames"), *COLUMNS]
        )
    )
    print(f"report: {out / 'report.md'}")
    return 0
