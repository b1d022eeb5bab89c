"""The streaming engine and ``derain run``: chunking, tiling, file round trips, bad input."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from conftest import make_test_frames
from derain.cli import main
from derain.inference import Derainer, default_output, derain_frames
from derain.io import FrameReader, probe
from derain.models import J4RNet, RRGNet, save_weights


def _random_model(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.03)
    return model.eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    out = {}
    for name, model in (
        ("rrgnet", RRGNet(width=8, skip_width=4, fusion_blocks=1)),
        ("j4rnet", J4RNet(channels=8, extractor_blocks=1)),
    ):
        out[name] = save_weights(_random_model(model), folder / f"{name}.safetensors")
    return out


@pytest.mark.parametrize("arch", ["rrgnet", "j4rnet"])
@pytest.mark.parametrize("chunk", [1, 3])
def test_derainer_chunked_equals_whole(weights, arch, chunk):
    frames = list(make_test_frames(frames=9, size=(40, 30)))
    whole = list(Derainer(weights[arch], device="cpu", precision="fp32", chunk=100)(frames))
    chunked = list(Derainer(weights[arch], device="cpu", precision="fp32", chunk=chunk)(iter(frames)))
    assert len(chunked) == len(frames) == len(whole)
    # Identical up to float rounding (convolution kernels differ with batch size): at most one
    # grey level, on a tiny fraction of pixels.
    diff = np.abs(np.stack(whole).astype(int) - np.stack(chunked).astype(int))
    assert diff.max() <= 1 and diff.mean() < 1e-3
    assert all(f.shape == (30, 40, 3) and f.dtype == np.uint8 for f in chunked)


def test_tiling_matches_whole_frame(weights):
    frames = list(make_test_frames(frames=5, size=(96, 80)))
    whole = np.stack(list(Derainer(weights["rrgnet"], device="cpu", precision="fp32")(frames)))
    tiled = np.stack(
        list(Derainer(weights["rrgnet"], device="cpu", precision="fp32", tile=48, overlap=16)(frames))
    )
    assert tiled.shape == whole.shape
    # Tiles see less context at their borders; blended overlaps keep the difference small.
    assert np.abs(tiled.astype(int) - whole.astype(int)).mean() < 2.0


def test_bf16_close_to_fp32(weights):
    from derain.runtime import cpu_supports_bf16

    if not cpu_supports_bf16():
        pytest.skip("no native bf16 on this CPU")
    frames = list(make_test_frames(frames=4, size=(32, 32)))
    a = np.stack(list(derain_frames(frames, model=weights["rrgnet"], device="cpu", precision="fp32")))
    b = np.stack(list(derain_frames(frames, model=weights["rrgnet"], device="cpu", precision="bf16")))
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.0


def test_run_video_keeps_frames_fps_audio(tmp_path, write_test_video, audio_seconds, weights):
    src = write_test_video(
        tmp_path / "clip.mp4", frames=14, size=(48, 36), fps=Fraction(2997, 100), with_audio=True
    )
    code = main(["run", str(src), "--model", str(weights["rrgnet"]), "--quiet"])
    assert code == 0
    out = default_output(src)
    assert out.name == "clip.derained.mp4"
    info = probe(out)
    assert (info.num_frames, info.width, info.height, info.fps) == (14, 48, 36, Fraction(2997, 100))
    assert abs(audio_seconds(out) - audio_seconds(src)) < 0.1


def test_run_side_by_side_and_trim(tmp_path, write_test_video, weights):
    src = write_test_video(tmp_path / "clip.mp4", frames=25, size=(32, 24), fps=25, with_audio=True)
    dst = tmp_path / "sbs.mkv"
    assert (
        main(
            [
                "run",
                str(src),
                "-o",
                str(dst),
                "--model",
                str(weights["j4rnet"]),
                "--side-by-side",
                "--start",
                "0.2",
                "--end",
                "0.6",
                "--quiet",
            ]
        )
        == 0
    )
    with FrameReader(dst) as reader:
        frames = list(reader)
    assert len(frames) == 10 and frames[0].shape == (24, 64, 3)


def test_run_frame_folder_keeps_names(tmp_path, write_frame_folder, weights):
    folder = write_frame_folder(tmp_path / "frames", make_test_frames(frames=5, size=(32, 24)))
    out = tmp_path / "out_frames"
    assert main(["run", str(folder), "-o", str(out), "--model", str(weights["rrgnet"]), "--quiet"]) == 0
    assert sorted(p.stem for p in out.iterdir()) == sorted(p.stem for p in folder.iterdir())


def test_run_several_inputs_into_folder(tmp_path, write_test_video, weights):
    srcs = [
        write_test_video(tmp_path / f"v{i}.mp4", frames=6, size=(32, 24), with_audio=False) for i in range(2)
    ]
    assert (
        main(
            [
                "run",
                str(tmp_path / "v*.mp4"),
                "-o",
                str(tmp_path / "outs") + "/",
                "--model",
                str(weights["rrgnet"]),
                "--quiet",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == [f"{s.stem}.derained.mp4" for s in srcs]


def test_truncated_input_still_gives_valid_output(tmp_path, write_test_video, weights, capsys):
    src = write_test_video(tmp_path / "clip.mp4", frames=40, size=(64, 48), with_audio=False, faststart=False)
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    dst = tmp_path / "cut_out.mp4"
    code = main(["run", str(cut), "-o", str(dst), "--model", str(weights["rrgnet"]), "--quiet"])
    if code == 0:
        err = capsys.readouterr().err
        assert "truncated" in err
        assert 0 < probe(dst).num_frames < 40
    else:  # the container index itself was cut away: then nothing is decodable at all
        assert code == 2 and not dst.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.mp4"], "input not found"),
        (["run", "in.mp4", "--model", "nosuchmodel"], "unknown model"),
        (["run", "in.mp4", "--model", "nosuch.safetensors"], "model file not found"),
        (["run", "in.mp4", "--precision", "fp8"], "unknown precision"),
        (["run", "in.mp4", "-o", "in.mp4"], "same"),
        (["run", "in.mp4", "-o", "exists.mp4"], "exists"),
        (["run", "in.mp4", "--start", "2", "--end", "1"], "--end"),
        (["run", "empty"], "no image"),
        (["run", "in.mp4", "--model", "wrong.safetensors"], "does not match"),
        (["run", "in.mp4", "--model", "junk.pt"], "cannot read checkpoint"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, monkeypatch, capsys, write_test_video, weights, argv, message):
    monkeypatch.chdir(tmp_path)
    write_test_video(tmp_path / "in.mp4", frames=4, size=(32, 24), with_audio=False)
    (tmp_path / "exists.mp4").write_bytes(b"keep me")
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    # Weights whose tensors do not fit the architecture in their metadata.
    from safetensors.torch import save_file

    save_file(
        {"enc_half.weight": torch.zeros(1)},
        str(tmp_path / "wrong.safetensors"),
        metadata={"arch": "rrgnet", "config": "{}"},
    )
    if "--model" not in argv:
        argv = [*argv, "--model", str(weights["rrgnet"])]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("derain: error:") and message in err[0]
    assert (tmp_path / "exists.mp4").read_bytes() == b"keep me"
    assert not any(".partial" in p.name for p in tmp_path.iterdir())


def test_cli_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "derain", "run", str(tmp_path / "nope.mp4")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "input not found" in proc.stderr


# VmHWM, not getrusage: ru_maxrss survives fork+exec on Linux and would start at pytest's own peak.
_PEAK_RSS_CHILD = """
import json, re, sys
from derain.inference import derain_video
peaks = []
for src in sys.argv[1:3]:  # short clip first: every one-off allocation happens there
    derain_video(src, sys.argv[3], model=sys.argv[4], device="cpu", overwrite=True, progress=False)
    peaks.append(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)))
print(json.dumps(peaks))
"""


def test_peak_memory_does_not_grow_with_length(tmp_path, write_test_video, weights):
    """A 10x longer clip must not raise peak RSS by more than 10% (holding its frames would: +130 MB)."""
    import json

    short = write_test_video(tmp_path / "c60.mp4", frames=60, size=(320, 240), with_audio=False)
    long = write_test_video(tmp_path / "c600.mp4", frames=600, size=(320, 240), with_audio=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_RSS_CHILD,
            str(short),
            str(long),
            str(tmp_path / "o.mp4"),
            str(weights["rrgnet"]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    after_short, after_long = json.loads(proc.stdout.strip().splitlines()[-1])
    assert after_long < after_short * 1.10, (after_short, after_long)


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path, write_test_video, weights):
    import signal
    import time

    src = write_test_video(tmp_path / "long.mp4", frames=400, size=(320, 240), with_audio=True)
    dst = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "derain",
            "run",
            str(src),
            "-o",
            str(dst),
            "--model",
            str(weights["rrgnet"]),
            "--device",
            "cpu",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(".partial" in p.name for p in tmp_path.iterdir()):  # writing has started
        assert proc.poll() is None and time.monotonic() < deadline, (
            "derain run ended before it was interrupted"
        )
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_callers_code_between_frames_runs_without_autocast(weights):
    """The engine's inference/autocast contexts must not leak into the caller's loop body."""
    frames = list(make_test_frames(frames=4, size=(32, 24)))
    for _ in derain_frames(frames, model=weights["rrgnet"], device="cpu", precision="bf16"):
        assert not torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2, requires_grad=True) * 2).requires_grad


@pytest.mark.parametrize("arch", ["rrgnet", "j4rnet"])
def test_low_precision_weight_cast_is_exact_and_leaves_callers_model_alone(weights, monkeypatch, arch):
    """Casting conv weights once gives the outputs autocast's per-call casts give, bit for bit."""
    from derain import runtime
    from derain.models import load_model

    frames = list(make_test_frames(frames=5, size=(32, 24)))
    model = load_model(weights[arch])
    cast = list(derain_frames(frames, model=model, device="cpu", precision="bf16"))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the caller's copy is untouched
    monkeypatch.setattr(runtime, "cast_for_inference", lambda m, precision: m)
    per_call = list(derain_frames(frames, model=model, device="cpu", precision="bf16"))
    for a, b in zip(cast, per_call, strict=True):
        np.testing.assert_array_equal(a, b)
