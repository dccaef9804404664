"""Threads vs processes on this CPU (issue 12's "threads" lever): is one fitting process with an
intra-op thread per core the best use of the cores, or would data-parallel fitting (a process
per core, each fitting its share of every batch, gradients summed over gloo) be faster?

    python bench/studies/2026-11-26-threads/threads.py [--clip bunny] [--size 320x180] [--params 100k] [--epochs 4] [--repeats 2]

Every variant runs the same minimal NeRV step (bf16 autocast, channels_last, fused Adam,
glibc keeping freed memory), batch 2, the same frames in the same order, in fresh processes;
variants interleaved, each repeat; ms per epoch of the epochs after the first. For the
data-parallel variant also the seconds rank 0 spent in all_reduce (waiting for the other rank
included). Writes bench/studies/2026-11-26-threads/threads.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from nvcodec.cli import parse_count
from nvcodec.training.fit import to_batch
from nvcodec.io import parse_size, read_video
from nvcodec.models import model_class
from nvcodec.resources import keep_freed_memory

#: name -> (processes, threads per process)
VARIANTS = {"1 process x 2 threads": (1, 2), "1 process x 1 thread": (1, 1),
            "2 processes x 1 thread (data-parallel)": (2, 1)}


def fit_loop(rank: int, world: int, threads: int, frames: torch.Tensor, params: int, epochs: int,
             port: int, out) -> None:
    torch.set_num_threads(threads)
    keep_freed_memory()
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    n, height, width = frames.shape[:3]
    cls = model_class("nerv")
    torch.manual_seed(0)
    model = cls(cls.configure(width, height, n, params)).to(memory_format=torch.channels_last)
    weights = list(model.parameters())
    optimizer = torch.optim.Adam(weights, lr=5e-3, fused=True)
    flat = torch.zeros(sum(p.numel() for p in weights))
    seconds, reducing = [], 0.0
    for epoch in range(epochs):
        began = time.perf_counter()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        for step in range(n // 2):
            idx = order[2 * step:2 * step + 2][rank::world]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out_frames = model(idx)
            loss = F.mse_loss(out_frames[..., :height, :width].float(), to_batch(frames, idx, True))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:  # the mean of the ranks' gradients: the gradient of the whole batch's mean
                torch.cat([p.grad.reshape(-1) for p in weights], out=flat)
                t = time.perf_counter()
                dist.all_reduce(flat)
                reducing += time.perf_counter() - t
                flat.div_(world)
                for p, g in zip(weights, flat.split([p.numel() for p in weights])):
                    p.grad.copy_(g.view_as(p.grad))
            optimizer.step()
        seconds.append(time.perf_counter() - began)
    if rank == 0:
        out.put({"ms_per_epoch": round(1000 * statistics.mean(seconds[1:]), 1),
                 "epochs_ms": [round(1000 * s) for s in seconds], "all_reduce_s": round(reducing, 3)})
    if world > 1:
        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--params", type=parse_count, default=100_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "threads.json"))
    args = parser.parse_args()
    video = read_video(args.clip, size=parse_size(args.size))
    frames = torch.from_numpy(video.frames).share_memory_()
    ctx = mp.get_context("spawn")
    runs: dict[str, list] = {v: [] for v in VARIANTS}
    for repeat in range(args.repeats):
        for name, (world, threads) in VARIANTS.items():
            queue = ctx.Queue()
            procs = [ctx.Process(target=fit_loop, args=(r, world, threads, frames, args.params, args.epochs,
                                                        29500 + repeat, queue)) for r in range(world)]
            for p in procs:
                p.start()
            result = queue.get()
            for p in procs:
                p.join()
            runs[name].append(result)
            print(f"{name}: {result}", flush=True)
    report = {"command": " ".join(["python", "bench/studies/2026-11-26-threads/threads.py"] + sys.argv[1:]), "clip": args.clip,
              "size": args.size, "params": args.params, "epochs": args.epochs, "repeats": args.repeats,
              "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M"),
              "variants": {k: {"ms_per_epoch": statistics.median(r["ms_per_epoch"] for r in v), "runs": v}
                           for k, v in runs.items()}}
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    for k, v in report["variants"].items():
        print(f"{k:>40}: {v['ms_per_epoch']:.0f} ms/epoch")


if __name__ == "__main__":
    main()
