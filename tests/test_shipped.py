"""The weights shipped inside the package load offline and beat the rainy input on bundled clips."""

from __future__ import annotations

import numpy as np
import pytest

from derain.commands.demo import sample_clip
from derain.inference import Derainer
from derain.metrics import psnr
from derain.models import DEFAULT_MODEL, shipped_weights
from derain.rain import PRESETS

SHIPPED = {"rrgnet", "j4rnet", "j4rnet-single"}
# RRGNet on every rain type it learned; the J4R-Nets on the two they were trained on.
CASES = [("rrgnet", p) for p in PRESETS] + [
    (m, p) for m in ("j4rnet", "j4rnet-single") for p in ("light", "complex")
]


def test_shipped_models_are_present_with_cards():
    shipped = shipped_weights()
    assert SHIPPED <= set(shipped)
    assert DEFAULT_MODEL in shipped
    for path in shipped.values():
        assert path.with_suffix(".md").is_file(), f"{path.name} has no model card"
        assert path.stat().st_size < 8 * 2**20


@pytest.fixture(scope="module")
def derainers():
    return {name: Derainer(name, device="cpu") for name in {n for n, _ in CASES}}


@pytest.mark.parametrize(("name", "preset"), CASES)
def test_shipped_model_beats_rainy_input(derainers, name, preset):
    rainy, clean = sample_clip(preset=preset, frames=9, width=192, height=112)
    derained = np.stack(list(derainers[name](list(rainy))))
    before, after = float(psnr(rainy, clean).mean()), float(psnr(derained, clean).mean())
    assert after > before + 0.5, (before, after)
