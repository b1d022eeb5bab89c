"""derain: remove rain from video.

Public API (everything else is internal and may change):

- :func:`load_model` — a shipped model by name (``"rrgnet"``, ``"j4rnet"``) or a checkpoint path.
- :func:`derain_video` — derain a video file / frame folder into another, streaming.
- :func:`derain_frames` — a generator: RGB uint8 frames in, derained frames out.
- :func:`synthesize` — render rainy layers (O, B, S, alpha, A) with the hybrid rain model.
- :func:`psnr`, :func:`ssim` — the field's metric conventions (Y channel, float64).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "derain_video", "derain_frames", "synthesize", "psnr", "ssim"]


def __getattr__(name: str):
    # Lazy imports keep `import derain` (and the CLI's --help) from importing torch.
    if name in ("psnr", "ssim"):
        from derain import metrics

        return getattr(metrics, name)
    if name in ("load_model",):
        from derain.models import load_model

        return load_model
    if name in ("derain_video", "derain_frames"):
        from derain import inference

        return getattr(inference, name)
    if name == "synthesize":
        from derain.rain import synthesize

        return synthesize
    raise AttributeError(f"module 'derain' has no attribute {name!r}")
