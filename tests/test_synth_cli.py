"""`derain synth`: the written layout, reproducibility, and clean refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derain.cli import main

LAYERS = ("input", "gt", "streak", "alpha", "reliance")


def _synth(out, *extra):
    return main(["synth", "--out", str(out), "--clips", "2", "--frames", "3", "--size", "96x64", *extra])


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_writes_the_layout_and_meta(tmp_path):
    out = tmp_path / "ds"
    assert _synth(out, "--preset", "complex", "--seed", "3") == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["preset"] == "complex" and meta["seed"] == 3 and len(meta["clips"]) == 2
    names = [c["name"] for c in meta["clips"]]
    for layer in LAYERS:
        assert sorted(p.name for p in (out / layer).iterdir()) == sorted(names)
        for name in names:
            frames = sorted(p.name for p in (out / layer / name).iterdir())
            assert frames == ["00000.png", "00001.png", "00002.png"]
    x = _png(out / "input" / names[0] / "00001.png")
    assert x.shape == (64, 96, 3) and x.dtype == np.uint8
    a = _png(out / "alpha" / names[0] / "00001.png")
    assert a.shape == (64, 96) and set(np.unique(a)) <= {0, 255}
    # The formula holds on the written layers up to 8-bit rounding.
    gt, s = (
        _png(out / "gt" / names[0] / "00001.png") / 255,
        _png(out / "streak" / names[0] / "00001.png") / 255,
    )
    r, al = _png(out / "reliance" / names[0] / "00001.png") / 255, (a / 255)[..., None]
    assert np.abs((1 - al) * (gt + s) + al * r - x / 255).max() <= 1.5 / 255
    assert _leftovers(tmp_path) == []


def test_meta_params_rebuild_the_clip(tmp_path):
    from derain.data.sources import bundled_sources
    from derain.data.synthetic import clean_clip
    from derain.rain import ClipParams, render_clip

    out = tmp_path / "ds"
    assert _synth(out, "--preset", "storm", "--seed", "1") == 0
    clip = json.loads((out / "meta.json").read_text())["clips"][0]
    params = ClipParams.from_dict(clip["params"])
    src = {s.name: s for s in bundled_sources()}[clip["source"]]
    layers = render_clip(clean_clip(src, params, fit="scale"), params)
    written = _png(out / "input" / clip["name"] / "00002.png")
    assert np.array_equal((layers.rainy[2] * 255 + 0.5).astype(np.uint8), written)


def test_same_seed_same_bytes(tmp_path):
    assert _synth(tmp_path / "a", "--seed", "7") == 0
    assert _synth(tmp_path / "b", "--seed", "7") == 0
    assert _synth(tmp_path / "c", "--seed", "8") == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert files and all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    inputs = {d: {p.read_bytes() for p in (tmp_path / d / "input").rglob("*.png")} for d in "ac"}
    assert not inputs["a"] & inputs["c"]


def test_empty_output_folder_is_filled_and_overwrite_replaces(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    assert _synth(out) == 0
    assert _synth(out, "--preset", "drizzle", "--overwrite") == 0
    assert json.loads((out / "meta.json").read_text())["preset"] == "drizzle"


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("derain: error:"), err
    return err[0]


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--preset", "hail"], "unknown rain preset"),
        (["--size", "96by64"], "--size"),
        (["--size", "4x4"], "--size"),
        (["--clips", "0"], "--clips"),
        (["--frames", "-2"], "--frames"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, extra, needle):
    out = tmp_path / "ds"
    assert _synth(out, *extra) == 2
    assert needle in _one_error_line(capsys)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_refuses_a_non_empty_output(tmp_path, capsys):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert _synth(out) == 2
    assert "not empty" in _one_error_line(capsys)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_bad_clean_sources(tmp_path, capsys):
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(small / "tiny.png")
    assert _synth(tmp_path / "a", "--clean", str(small)) == 2
    assert "smaller than" in _one_error_line(capsys)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"not a png")
    assert _synth(tmp_path / "b", "--clean", str(broken)) == 2
    assert "unreadable" in _one_error_line(capsys)
    assert _synth(tmp_path / "c", "--clean", str(tmp_path / "missing")) == 2
    assert "not found" in _one_error_line(capsys)
    assert not any((tmp_path / n).exists() for n in "abc") and _leftovers(tmp_path) == []
    # --fit scale accepts the small source.
    assert _synth(tmp_path / "d", "--clean", str(small), "--fit", "scale") == 0


def test_bundled_benchmark_variant(tmp_path):
    out = tmp_path / "bench"
    assert main(["synth", "--benchmark", "--preset", "drizzle", "--out", str(out)]) == 0
    index = json.loads((out / "benchmark.json").read_text())
    assert index["variant"] == "bundled" and list(index["presets"]) == ["drizzle"]
    assert (out / "drizzle" / "meta.json").is_file()
    clips = sorted(p.name for p in (out / "drizzle" / "input").iterdir())
    assert clips == sorted(index["presets"]["drizzle"]["clips"]) and len(clips) == 4


def test_several_presets_give_one_folder_each(tmp_path):
    out = tmp_path / "ds"
    assert _synth(out, "--preset", "light,storm") == 0
    assert sorted(p.name for p in out.iterdir()) == ["light", "storm"]
    assert (out / "storm" / "input").is_dir()
