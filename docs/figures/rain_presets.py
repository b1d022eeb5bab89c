"""Write the rain contact sheets of docs/rain.md and print each preset's measured PSNR-Y range.

    python docs/figures/rain_presets.py            # writes docs/img/rain_<preset>.png, rain_overview.png

Only the photographs bundled with scikit-image are used (public domain / CC0), so the figures can be
redistributed and rebuilt anywhere. Columns: rainy O, clean B, streak S (x2 for visibility), occlusion
alpha, reliance A (shown where alpha = 1, grey elsewhere).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from derain.data.sources import bundled_sources
from derain.rain import PRESETS, motion, render_clip, sample_clip_params
from derain.rain.calibrate import measure_psnr, to_reference_scale

OUT = Path(__file__).resolve().parents[1] / "img"
TILE_W, TILE_H = 352, 198
SCENES = ("bundled-rocket", "bundled-astronaut")
COLUMNS = ("rainy O", "clean B", "streak S (x2)", "occlusion alpha", "reliance A (alpha=1)")


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _label(img: Image.Image, text: str) -> None:
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 7 * len(text) + 8, 16], fill=(0, 0, 0))
    d.text((4, 3), text, fill=(255, 255, 255))


def render_scene(preset: str, image: np.ndarray, seed: int, frames: int = 3):
    """The middle frame's layers of one clip at TILE size, rain at the reference scale."""
    src = to_reference_scale(image)
    params = sample_clip_params(
        preset, np.random.default_rng(seed), frames=frames, height=TILE_H, width=TILE_W, scale=1.0
    )
    clip = motion.animate_still(src, params.camera, frames=frames, height=TILE_H, width=TILE_W)
    return render_clip(clip, params), frames // 2


def contact_sheet(preset: str, images: dict[str, np.ndarray]) -> Image.Image:
    rows = []
    for k, name in enumerate(SCENES):
        layers, t = render_scene(preset, images[name], seed=100 + k)
        a = layers.alpha[t]
        rel = layers.reliance[t] * a + 0.5 * (1 - a)
        tiles = [layers.rainy[t], layers.clean[t], 2 * layers.streak[t], np.repeat(a, 3, -1), rel]
        rows.append(np.concatenate([_u8(x) for x in tiles], 1))
    sheet = Image.fromarray(np.concatenate(rows, 0))
    for c, text in enumerate(COLUMNS):
        tile = sheet.crop((c * TILE_W, 0, (c + 1) * TILE_W, 17))
        _label(tile, text if c else f"{preset}: {text}")
        sheet.paste(tile, (c * TILE_W, 0))
    return sheet


def overview(images: dict[str, np.ndarray]) -> Image.Image:
    tiles = []
    for preset in PRESETS:
        layers, t = render_scene(preset, images["bundled-rocket"], seed=7)
        tile = Image.fromarray(_u8(layers.rainy[t]))
        _label(tile, preset)
        tiles.append(np.asarray(tile))
    clean = Image.fromarray(_u8(layers.clean[t]))
    _label(clean, "clean")
    tiles.insert(0, np.asarray(clean))
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i : i + 3], 1) for i in range(0, len(tiles), 3)]
    return Image.fromarray(np.concatenate(rows, 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4, help="seeds per still for the PSNR ranges (default 4)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    images = {s.name: s.load() for s in bundled_sources()}
    for preset in PRESETS:
        contact_sheet(preset, images).save(OUT / f"rain_{preset}.png", optimize=True)
    overview(images).save(OUT / "rain_overview.png", optimize=True)
    print("| preset | mean PSNR-Y | min | max | documented range |")
    print("|---|---:|---:|---:|---|")
    stills = list(images.values())
    for preset, p in PRESETS.items():
        v = [x for s in range(args.seeds) for x in measure_psnr(preset, stills, seed=s)]
        lo, hi = p.psnr_range
        print(f"| {preset} | {np.mean(v):.2f} | {min(v):.2f} | {max(v):.2f} | {lo:g}-{hi:g} dB |")


if __name__ == "__main__":
    main()
