"""``derain demo`` (also plain ``derain`` and ``derain run`` with no input): the main job on a bundled clip.

Renders a rainy sample clip from a photograph that ships with scikit-image (with simulated camera
motion and the ``complex`` rain type, fixed seed), derains it with the default model through the
same file-to-file path as ``derain run``, and reports PSNR-Y against the clean original. Files in
the output folder (default ``./derain-demo``): ``rainy.mp4``, ``derained.mp4``,
``side_by_side.mp4`` (rainy | derained) and ``clean.mp4``. The demo folder is its own: a rerun
replaces the files it wrote there.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from derain.errors import DerainError

DEMO_SOURCE = "bundled-rocket"
DEMO_PRESET = "complex"
DEMO_SEED = 7
DEMO_FPS = Fraction(25)


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="derain a bundled sample clip and report PSNR (the quick start)")
    p.add_argument("--out", default="derain-demo", help="output folder (default: ./derain-demo)")
    p.add_argument("--model", default=None, help="model name or checkpoint (default: the default model)")
    p.add_argument("--preset", default=DEMO_PRESET, help=f"rain type of the sample (default: {DEMO_PRESET})")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="640x360", help="WxH of the sample clip")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DerainError(f"--size must look like 640x360, got {text!r}") from None
    if w < 16 or h < 16:
        raise DerainError(f"--size must be at least 16x16, got {text}")
    return w, h


def sample_clip(*, preset: str = DEMO_PRESET, frames: int = 48, width: int = 640, height: int = 360):
    """The bundled sample: ``(rainy, clean)`` uint8 clips ``(T, H, W, 3)``, same bytes on every run."""
    from derain.data.sources import bundled_sources
    from derain.data.synthetic import clean_clip
    from derain.rain import render_clip, sample_clip_params

    source = next(s for s in bundled_sources() if s.name == DEMO_SOURCE)
    params = sample_clip_params(
        preset, np.random.default_rng(DEMO_SEED), frames=frames, height=height, width=width
    )
    layers = render_clip(clean_clip(source, params, fit="scale"), params)

    def u8(x):
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)

    return u8(layers.rainy), u8(layers.clean)


def _write(path: Path, frames) -> None:
    from derain.io import FrameWriter

    with FrameWriter(path, fps=DEMO_FPS, overwrite=True, crf=14) as writer:
        for f in frames:
            writer.write(f)


def _write_side_by_side(left: Path, right: Path, out: Path) -> None:
    """Re-encode two decoded videos next to each other (no second pass through the model)."""
    from derain.io import FrameReader

    with FrameReader(left) as a, FrameReader(right) as b:
        _write(out, (np.concatenate([x, y], axis=1) for x, y in zip(a, b, strict=True)))


def _mean_psnr(path: Path, clean: np.ndarray) -> float:
    from derain.io import FrameReader
    from derain.metrics import psnr

    with FrameReader(path) as reader:
        frames = np.stack(list(reader))
    return float(psnr(frames, clean).mean())


def run_demo(
    *,
    out: str = "derain-demo",
    model: str | None = None,
    preset: str = DEMO_PRESET,
    frames: int = 48,
    size: tuple[int, int] = (640, 360),
    device: str = "auto",
    precision: str = "auto",
) -> int:
    from derain.inference import Derainer, derain_video
    from derain.models import DEFAULT_MODEL

    if frames < 1:
        raise DerainError("--frames must be at least 1")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise DerainError(f"demo output {out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = size
    print(f"rendering a {frames}-frame {width}x{height} sample with '{preset}' rain ...", file=sys.stderr)
    rainy, clean = sample_clip(preset=preset, frames=frames, width=width, height=height)
    _write(out_dir / "rainy.mp4", rainy)
    _write(out_dir / "clean.mp4", clean)
    derainer = Derainer(model or DEFAULT_MODEL, device=device, precision=precision)
    summary = derain_video(
        out_dir / "rainy.mp4",
        out_dir / "derained.mp4",
        model=derainer,
        overwrite=True,
        progress=sys.stderr.isatty(),
    )
    print(summary.line(), file=sys.stderr)
    _write_side_by_side(out_dir / "rainy.mp4", out_dir / "derained.mp4", out_dir / "side_by_side.mp4")
    before, after = _mean_psnr(out_dir / "rainy.mp4", clean), _mean_psnr(out_dir / "derained.mp4", clean)
    print(
        f"model {derainer.name} ({derainer.device.type}, {derainer.precision}): PSNR-Y against the clean "
        f"clip {before:.2f} dB rainy -> {after:.2f} dB derained ({after - before:+.2f} dB); "
        f"see {out_dir}/side_by_side.mp4"
    )
    return 0


def run(args) -> int:
    return run_demo(
        out=args.out,
        model=args.model,
        preset=args.preset,
        frames=args.frames,
        size=parse_size(args.size),
        device=args.device,
        precision=args.precision,
    )
