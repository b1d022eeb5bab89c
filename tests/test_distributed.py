"""torchrun on loopback: 2 CPU processes with gloo train like one process, and shard `derain run`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from derain.models import RRGNet, save_weights

TRAIN_ARGS = [
    "train",
    "--model",
    "rrgnet",
    "--config",
    "width=8,skip_width=4,fusion_blocks=1",
    "--presets",
    "light",
    "--steps",
    "3",
    "--batch",
    "4",
    "--frames",
    "5",
    "--patch",
    "32",
    "--workers",
    "0",
    "--precision",
    "fp32",
    "--device",
    "cpu",
    "--log-every",
    "1",
    "--val-every",
    "100",
    "--seed",
    "3",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], cwd) -> subprocess.CompletedProcess:
    # Loopback only: the rendezvous on 127.0.0.1 and gloo bound to the lo interface.
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"127.0.0.1:{_free_port()}",
        "-m",
        "derain",
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _single(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "derain", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_ranks_train_like_one_process(tmp_path):
    multi = _torchrun([*TRAIN_ARGS, "--out", str(tmp_path / "ddp")], tmp_path)
    assert multi.returncode == 0, multi.stderr[:2000] + "\n...\n" + multi.stderr[-2000:]
    single = _single([*TRAIN_ARGS, "--out", str(tmp_path / "one")], tmp_path)
    assert single.returncode == 0, single.stderr[-2000:]
    ranks = json.loads((tmp_path / "ddp" / "ranks.json").read_text())
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["step"] == 3 for r in ranks)
    assert ranks[0]["param_sum"] == ranks[1]["param_sum"]  # DDP keeps the ranks bit-identical
    ddp = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)["model"]
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=False)["model"]
    for key in one:
        torch.testing.assert_close(ddp[key], one[key], atol=1e-5, rtol=1e-4)
    # Training moved the weights, so the comparison above is not trivially true.
    init = RRGNet(width=8, skip_width=4, fusion_blocks=1).state_dict()
    assert any(not torch.allclose(one[k], init[k]) for k in one if k.endswith("weight"))


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_run_shards_inputs_across_ranks(tmp_path, write_test_video):
    weights = save_weights(RRGNet(width=8, skip_width=4, fusion_blocks=1), tmp_path / "tiny.safetensors")
    for i in range(4):
        write_test_video(tmp_path / f"clip{i}.mp4", frames=5, size=(32, 24), with_audio=False, seed=i)
    args = [
        "run",
        str(tmp_path / "clip*.mp4"),
        "-o",
        str(tmp_path / "out") + "/",
        "--model",
        str(weights),
        "--device",
        "cpu",
        "--quiet",
    ]
    proc = _torchrun(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outs == [f"clip{i}.derained.mp4" for i in range(4)]
    assert "4 inputs" in proc.stdout
    # A rerun skips what is complete.
    again = _torchrun(args, tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped") == 4
