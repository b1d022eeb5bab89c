"""Per-clip error analysis behind docs/results.md ("Why light rain is hard here").

For clips of the standard benchmark, prints the mean luma error (bias) and RMSE of the rainy input
and of each model, and writes input | clean | streak | alpha over each model's output and its
|error| x4 (frame 10) to .cache/clip_errors/<clip>.png.

    python docs/experiments/clip_errors.py --clips 01_car-shadow_020,04_tennis_000,07_kodim08

docs/img/light_veil_error.png (docs/results.md):

    python docs/experiments/clip_errors.py --clips 03_drift-chicane_032 --models rrgnet,j4rnet \
        --out docs/img --name light_veil_error --scale 0.5

The level shifts in docs/rrgnet.md ("Dry and hazy scenes"): ``--dry`` also feeds each model the
clean frames (a rain-free scene should come out unchanged), ``--film-off`` also runs each RRGNet
with its frame-wide context layer switched off (no figure is written with these):

    python docs/experiments/clip_errors.py --clips 03_drift-chicane_032 --dry --film-off --models \
        runs/rrgnet-context/continual/3-storm/last.pt,runs/rrgnet-context/continual/4-downpour/last.pt,rrgnet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def luma(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return 16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=str(ROOT / ".cache" / "standard-benchmark" / "light"))
    parser.add_argument("--clips", default="01_car-shadow_020,04_tennis_000,07_kodim08")
    parser.add_argument("--models", default="rrgnet,j4rnet-single")
    parser.add_argument("--frame", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / ".cache" / "clip_errors"), help="folder for the PNGs")
    parser.add_argument("--name", default=None, help="file stem (one clip only); default: the clip's name")
    parser.add_argument("--scale", type=float, default=1.0, help="resize the sheet by this factor")
    parser.add_argument("--dry", action="store_true", help="also print each model's bias on the clean frames")
    parser.add_argument(
        "--film-off", action="store_true", help="also run each RRGNet without its context layer"
    )
    args = parser.parse_args()
    if args.name and "," in args.clips:
        parser.error("--name needs a single clip")
    from derain.inference import Derainer
    from derain.io import FrameReader, write_image

    derainers = {m: Derainer(m, device="cpu") for m in args.models.split(",")}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = args.frame
    for clip in args.clips.split(","):

        def read(layer: str, clip: str = clip) -> np.ndarray:
            with FrameReader(Path(args.bench) / layer / clip) as reader:
                return np.stack(list(reader))

        rainy, clean, streak, alpha = (read(x) for x in ("input", "gt", "streak", "alpha"))
        err = luma(rainy) - luma(clean)
        line = [f"{clip}: input bias {err.mean():+.2f} rmse {np.sqrt((err**2).mean()):.2f}"]
        row = []
        for name, derainer in derainers.items():
            out = np.stack(list(derainer(list(rainy))))
            e = luma(out) - luma(clean)
            line.append(f"{name} bias {e.mean():+.2f} rmse {np.sqrt((e**2).mean()):.2f}")
            if args.dry:
                dry = luma(np.stack(list(derainer(list(clean))))) - luma(clean)
                line.append(f"{name} on clean frames bias {dry.mean():+.2f}")
            film = getattr(derainer.model, "film", None)
            if args.film_off and film is not None:
                derainer.model.film = None
                off = luma(np.stack(list(derainer(list(rainy))))) - luma(clean)
                derainer.model.film = film
                line.append(f"{name} context off bias {off.mean():+.2f}")
            diff = np.abs(out[t].astype(int) - clean[t].astype(int)) * 4
            row += [out[t], np.clip(diff, 0, 255).astype(np.uint8)]
        print(";\n  ".join(line))
        if args.dry or args.film_off:
            continue
        top = np.concatenate([rainy[t], clean[t], streak[t], alpha[t]], 1)
        bottom = np.concatenate(row, 1)
        width = max(top.shape[1], bottom.shape[1])
        rows = [np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0))) for a in (top, bottom)]
        sheet = np.concatenate(rows, 0)
        if args.scale != 1.0:
            from PIL import Image

            size = (round(sheet.shape[1] * args.scale), round(sheet.shape[0] * args.scale))
            sheet = np.asarray(Image.fromarray(sheet).resize(size, Image.Resampling.LANCZOS))
        write_image(out_dir / f"{args.name or clip}.png", sheet)


if __name__ == "__main__":
    main()
