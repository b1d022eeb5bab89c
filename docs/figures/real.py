"""Before/after frames of real rain (no ground truth): docs/img/real_yard.png.

    python docs/figures/real.py --video ../shared/data/real/yard.mp4

Rows: a few frames of the real clip; columns: rainy input, then each shipped model's output, and a
4x enlarged crop of each, so thin streaks can be seen. The clip is used only for looking: no model
was tuned on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]


def _label(img: np.ndarray, text: str) -> np.ndarray:
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    draw.rectangle([0, 0, 8 * len(text) + 8, 16], fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.asarray(pil)


def _crop(img: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    y, x, size = box
    patch = img[y : y + size, x : x + size]
    return np.asarray(Image.fromarray(patch).resize((img.shape[1], img.shape[1]), Image.NEAREST))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--frames", default="60,200")
    parser.add_argument("--models", default="rrgnet,j4rnet")
    parser.add_argument("--crop", default="120,120,92", help="y,x,size of the enlarged crop")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "real_yard.png"))
    args = parser.parse_args()
    from derain.inference import Derainer
    from derain.io import FrameReader, write_image

    wanted = [int(v) for v in args.frames.split(",")]
    box = tuple(int(v) for v in args.crop.split(","))
    last = max(wanted)
    # Recurrent/windowed models need the frames before (and after) each shown frame.
    with FrameReader(args.video, end=last + 3) as reader:
        clip = list(reader)
    columns = {"rainy input": [clip[i] for i in wanted]}
    for name in args.models.split(","):
        out = list(Derainer(name)(clip))
        columns[name] = [out[i] for i in wanted]
    rows = []
    for r in range(len(wanted)):
        full = [_label(columns[k][r], f"{k}, frame {wanted[r]}") for k in columns]
        crops = [_crop(columns[k][r], box) for k in columns]
        rows.append(np.concatenate([np.concatenate(full, 1), np.concatenate(crops, 1)], 0))
    sheet = np.concatenate(rows, 0)
    write_image(args.out, sheet[::2, ::2] if sheet.shape[0] > 2600 else sheet)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
