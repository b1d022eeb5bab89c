"""``derain synth``: render a synthetic rainy data set with the hybrid rain model.

    derain synth --preset complex --clean CLEAN --out DIR --clips 10 --frames 20 --size 640x360 --seed 1
    derain synth --benchmark --clean shared/data/clean --out bench/    # the standard benchmark

Writes ``DIR/{input,gt,streak,alpha,reliance}/<clip>/<frame:05d>.png`` and ``DIR/meta.json`` (every
clip's parameters), readable by ``derain eval DIR``. Several presets (``--preset light,storm`` or
``all``) give one such folder per preset: ``DIR/<preset>/...``. Output is written under a temporary
name and renamed when complete; a non-empty DIR needs ``--overwrite``.
"""

from __future__ import annotations

import re
from pathlib import Path

from derain.errors import DerainError

_LIMITS = {"clips": (1, 100_000), "frames": (1, 10_000), "side": (8, 8192), "seed": (0, 2**63 - 1)}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="render a synthetic rainy data set (input, gt, streak, alpha, reliance)",
        description="Render rainy/clean pairs with the hybrid rain model O = (1-a)(B+S) + aA.",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="rain type: light, complex, drizzle, storm, downpour; "
        "a comma list or 'all' writes one sub-folder per preset (default: light)",
    )
    p.add_argument(
        "--clean",
        default=None,
        metavar="SRC",
        help="clean images/videos: a file, a folder, or a "
        "folder with manifest.csv (default: photographs bundled with scikit-image)",
    )
    p.add_argument(
        "--split",
        choices=("train", "test"),
        default=None,
        help="with the shared clean folder: use only this side of the train/test split",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist or be empty)")
    p.add_argument("--clips", type=int, default=8, help="number of clips (default 8)")
    p.add_argument("--frames", type=int, default=20, help="frames per clip (default 20)")
    p.add_argument("--size", default="640x360", metavar="WxH", help="frame size (default 640x360)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    p.add_argument(
        "--fit",
        choices=("crop", "scale"),
        default=None,
        help="crop: sources must be at least WxH (default with --clean); scale: resize sources to "
        "cover WxH (default for the bundled photographs)",
    )
    p.add_argument(
        "--benchmark",
        action="store_true",
        help="build the standard benchmark (all presets, fixed seeds, TEST split of --clean; "
        "without --clean: the small bundled variant)",
    )
    p.add_argument(
        "--layers",
        default="input,gt,streak,alpha,reliance",
        help="layers to write (input and gt at least; fewer PNGs write faster)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--list-presets", action="store_true", help="print the rain presets and exit")
    p.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    """``"640x360"`` -> ``(640, 360)``; DerainError when malformed or out of range."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m:
        raise DerainError(f"--size must look like 640x360, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    lo, hi = _LIMITS["side"]
    if not (lo <= w <= hi and lo <= h <= hi):
        raise DerainError(f"--size sides must lie in [{lo}, {hi}], got {w}x{h}")
    return w, h


def _presets(text: str) -> list[str]:
    from derain.rain.presets import PRESETS, get_preset

    if text.strip() == "all":
        return list(PRESETS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise DerainError("--preset is empty")
    return [get_preset(n).name for n in names]


def _check_range(name: str, value: int) -> None:
    lo, hi = _LIMITS[name]
    if not lo <= value <= hi:
        raise DerainError(f"--{name} must lie in [{lo}, {hi}], got {value}")


def run(args) -> int:
    from derain.rain.presets import PRESETS

    if args.list_presets:
        for name, p in PRESETS.items():
            print(f"{name:9s} {p.description}")
        return 0
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DerainError(f"output exists and is a file: {out}")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise DerainError(f"output folder is not empty: {out} (use --overwrite to replace it)")
    if args.benchmark:
        from derain.data.splits import build_standard_benchmark

        presets = None if args.preset is None else _presets(args.preset)
        build_standard_benchmark(args.clean, out, presets=presets, overwrite=args.overwrite)
        print(f"wrote the {'bundled' if args.clean is None else 'standard'} benchmark to {out}")
        return 0
    presets = _presets(args.preset or "light")
    width, height = parse_size(args.size)
    _check_range("clips", args.clips)
    _check_range("frames", args.frames)
    _check_range("seed", args.seed)
    sources = _sources(args.clean, args.split)
    fit = args.fit or ("scale" if args.clean is None else "crop")
    _check_sizes(sources, width, height, fit)
    from derain.data.synthetic import write_dataset

    common = dict(
        clean=sources,
        clips=args.clips,
        frames=args.frames,
        width=width,
        height=height,
        seed=args.seed,
        fit=fit,
        extra_meta={"clean": args.clean, "split": args.split},
        layers=tuple(x.strip() for x in args.layers.split(",") if x.strip()),
    )
    if len(presets) == 1:
        write_dataset(out, preset=presets[0], overwrite=args.overwrite, **common)
    else:
        from derain.io import atomic_output

        with atomic_output(out, overwrite=args.overwrite or out.is_dir()) as tmp:
            tmp.mkdir()
            for p in presets:
                write_dataset(tmp / p, preset=p, **common)
    what = f"{args.clips} clip(s) x {args.frames} frames of {', '.join(presets)} rain"
    print(f"wrote {what} at {width}x{height} to {out}")
    return 0


def _sources(clean, split):
    from derain.data.sources import load_sources
    from derain.data.splits import split_of

    sources = load_sources(clean)
    if split is not None:
        sources = [s for s in sources if split_of(s) == split]
        if not sources:
            raise DerainError(f"no clean source of the {split} split in {clean}")
    return sources


def _check_sizes(sources, width: int, height: int, fit: str) -> None:
    """Fail before writing anything when a source is unreadable or too small (with --fit crop)."""
    from derain.io import probe

    for s in sources:
        try:
            info = probe(s.path)
        except DerainError as exc:
            raise DerainError(f"clean source {s.name} is unreadable: {exc}") from None
        if fit == "crop" and (info.width < width or info.height < height):
            raise DerainError(
                f"clean source {s.name} is {info.width}x{info.height}, smaller than {width}x{height} "
                "(use --fit scale to resize it)"
            )
