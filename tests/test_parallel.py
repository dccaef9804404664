"""Encodes spread over processes (torchrun, gloo on CPU): NeRV fitted data-parallel, the bench's
points shared out. (NIRVANA's groups over processes: test_nirvana.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from conftest import torchrun
from nvcodec.bitstream.decoder import decode_frames


def test_nerv_data_parallel_fits_as_one_process_would(tmp_path, tiny_clip):
    # 5 frames, a batch of 1 in each of 2 processes: the steps of one process with a batch of 2,
    # the last step of each epoch a single frame (so process 1 renders nothing there)
    common = ["encode", tiny_clip, "--model", "nerv", "--frames", "0:5", "--params", "3k", "--epochs", "4", "--no-bf16",
              "--quiet", "--json"]
    run = torchrun(*common, "--batch-size", "1", "-o", str(tmp_path / "dp.nvc"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    spread = json.loads(run.stdout.strip().splitlines()[-1])
    one = subprocess.run([sys.executable, "-m", "nvcodec", *common, "--batch-size", "2", "-o", str(tmp_path / "one.nvc")],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr
    alone = json.loads(one.stdout.strip().splitlines()[-1])
    assert [p["rank"] for p in spread["processes"]] == [0, 1]
    assert [p["steps"] for p in spread["processes"]] == [12, 12]  # 3 steps an epoch, in lockstep
    assert [p["frames_fitted"] for p in spread["processes"]] == [12, 8]  # both did fitting work
    # summed gradients and the rate counted once: the same fit as one process, to rounding (here
    # the same frames; without the sum they differ by 0.6 levels on average, with the rate counted
    # in each process by 0.04)
    frames = decode_frames(tmp_path / "dp.nvc")
    assert frames.shape == (5, 24, 40, 3)
    assert np.abs(frames.astype(float) - decode_frames(tmp_path / "one.nvc")).mean() < 0.02
    assert abs(spread["bytes"] / alone["bytes"] - 1) < 0.01
    assert sorted(os.listdir(tmp_path)) == ["dp.nvc", "one.nvc"]  # rank 0 wrote the one file
    # more processes than frames: a clear error, nothing written
    run = torchrun("encode", tiny_clip, "--frames", "0:1", "--epochs", "1", "-o", str(tmp_path / "x.nvc"), "--quiet",
                   cwd=tmp_path)
    assert run.returncode != 0 and "2 processes for 1 frames" in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["dp.nvc", "one.nvc"]


def test_bench_deals_its_points_to_the_processes(tmp_path, tiny_clip):
    # 4 points dealt in turn: x264 at CRF 25 and NeRV at 10 bpp to process 0, CRF 35 and 20 bpp
    # to process 1; rank 0 alone writes, so both curves whole means both processes ran points
    run = torchrun("bench", "--clips", tiny_clip, "--models", "nerv", "--baselines", "x264", "--budget", "1",
                   "--rates", "10,20", "--crf", "25,35", "--bits", "8", "-o", str(tmp_path / "r"), "--quiet",
                   cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    clip_dir = tmp_path / "r" / "tiny"
    curves = {p.name: json.loads(p.read_text())["results"] for p in clip_dir.glob("*.json")}
    assert sorted(curves) == ["nvcodec-nerv-1s.json", "x264-medium.json"]
    assert curves["x264-medium.json"]["crf"] == [35, 25]  # sorted by rate
    assert curves["nvcodec-nerv-1s.json"]["target-bpp"] == [10.0, 20.0]
    for rate, size in zip(curves["nvcodec-nerv-1s.json"]["target-bpp"], curves["nvcodec-nerv-1s.json"]["bytes"]):
        assert (clip_dir / "streams" / f"nerv-1s-{rate:g}.nvc").stat().st_size == size
    assert (tmp_path / "r" / "bd-rate.md").exists() and (clip_dir / "rd.png").exists()


def _sum_in_process(rank: int, init: str, out: str) -> None:
    import torch
    import torch.distributed as dist

    from nvcodec.training import parallel

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    a, b, c, d = (torch.zeros(2, 3, requires_grad=True) for _ in range(4))
    a.grad = torch.full((2, 3), rank + 1.0)  # both have it
    if rank == 1:
        c.grad = torch.ones(2, 3)  # only one has it (a process with no frames in a step)
    if rank == 0:
        d.grad = torch.zeros(2, 3)  # one has a gradient of zeros, the other none: present, not missing
    parallel.sum_gradients([a, b, c, d], parallel.Processes(rank, 2))
    torch.save({"a": a.grad, "b": b.grad, "c": c.grad, "d": d.grad}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_gradients_are_summed_and_missing_ones_stay_missing(tmp_path):
    import torch
    import torch.multiprocessing as mp

    mp.spawn(_sum_in_process, args=(f"file://{tmp_path / 'rendezvous'}", str(tmp_path / "g")), nprocs=2)
    for rank in (0, 1):
        g = torch.load(tmp_path / f"g.{rank}")
        assert torch.equal(g["a"], torch.full((2, 3), 3.0))
        assert g["b"] is None  # missing everywhere: the optimizer skips it, as in one process
        assert torch.equal(g["c"], torch.ones(2, 3))
        assert g["d"] is not None and torch.equal(g["d"], torch.zeros(2, 3))  # every process steps it
