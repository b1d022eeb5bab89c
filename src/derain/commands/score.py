"""``derain score PRED GT``: PSNR / SSIM / flicker of predictions against ground truth."""

from __future__ import annotations

import argparse
import json


def non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "score",
        help="score predictions against ground truth (PSNR, SSIM, flicker)",
        description=(
            "Score PRED against GT: two clips (video files or frame folders), or two folders of clips "
            "paired by name. PSNR/SSIM follow the field's conventions (BT.601 Y channel as MATLAB, "
            "float64, SSIM 11x11 Gaussian, valid filtering); scores are averaged over the frames of a "
            "clip, then over clips."
        ),
    )
    p.add_argument("pred", metavar="PRED", help="predicted clip, or folder of clips")
    p.add_argument("gt", metavar="GT", help="ground-truth clip, or folder of clips with the same names")
    p.add_argument(
        "--channel", choices=("y", "rgb", "both"), default="y", help="channel to score (default: y)"
    )
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
    p.add_argument("--per-frame", action="store_true", help="also print a per-frame table")
    p.add_argument(
        "--json", action="store_true", help="print machine-readable JSON (non-finite numbers as null)"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from derain.evaluate import score
    from derain.report import format_table, json_safe

    result = score(
        args.pred,
        args.gt,
        channel=args.channel,
        crop_border=args.crop_border,
        drop_ends=args.drop_ends,
        per_frame=args.per_frame,
    )
    if args.json:
        print(json.dumps(json_safe(result), indent=2))
        return 0
    channels = ("y", "rgb") if args.channel == "both" else (args.channel,)
    metrics = [
        (f"{m}_{c}", f"{m.upper() if m != 'flicker' else m}-{c.upper()}")
        for c in channels
        for m in ("psnr", "ssim", "flicker")
    ]
    print(
        f"# {result['conventions']}"
        + (f"; first/last {args.drop_ends} frames dropped" if args.drop_ends else "")
    )
    if args.per_frame:
        print(format_table(result["per_frame"], [("clip", "clip"), ("frame", "frame"), *metrics]))
        print()
    print(format_table(result["clips"], [("clip", "clip"), ("frames", "frames"), *metrics]))
    if len(result["clips"]) > 1:
        print()
        print(
            format_table(
                [{"clip": "mean of clips", **result["mean"]}], [("clip", ""), ("frames", "frames"), *metrics]
            )
        )
    return 0
