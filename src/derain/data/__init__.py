"""Data: clean sources, the train/test split, written synthetic data sets and on-the-fly patches.

- :mod:`derain.data.sources`: :class:`CleanSource`, :func:`load_sources` (bundled, folders, videos).
- :mod:`derain.data.splits`: the explicit train/test split and :func:`build_standard_benchmark`.
- :mod:`derain.data.synthetic`: :func:`write_dataset` and the torch Dataset :class:`SyntheticRainClips`.
"""

from __future__ import annotations

_LAZY = {
    "CleanSource": "sources",
    "load_sources": "sources",
    "split_sources": "splits",
    "build_standard_benchmark": "splits",
    "write_dataset": "synthetic",
    "SyntheticRainClips": "synthetic",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    # Lazy, so that importing derain.data does not import torch.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"derain.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'derain.data' has no attribute {name!r}")
