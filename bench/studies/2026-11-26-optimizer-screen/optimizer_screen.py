"""Screen fitting variants at equal *epochs* (issue 12's optimizer and schedule levers), many at
once: the screen for bench/levers.py, which then compares the survivors at equal CPU wall time.

    python bench/studies/2026-11-26-optimizer-screen/optimizer_screen.py --clip bunny --size 320x180 --params 100k --epochs 150 \
        [--device cuda] [--workers 8] [--seeds 1] [--variants adam,muon2e-2,...] [-o FILE]

At equal epochs a variant's trajectory is the one it follows on this CPU within a wall-time
budget that buys those epochs (150 epochs: bunny 100k in ~2 minutes here), whatever machine
runs it; so a GPU, where a small NeRV leaves the card nearly idle, runs several fits side by
side (``--workers`` processes) and screens dozens of variants in minutes. What equal epochs
cannot show is a variant's cost per epoch on the CPU (Muon's few small matrix products a
step): bench/levers.py measures that at equal wall time. Score: PSNR-RGB of the fitted
network's frames (float, before quantization), as levers.py.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nvcodec.cli import parse_count

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ (levers.py), in spawned workers too

#: name -> (FitConfig changes, model options, He-initialise the upsampling convs)
VARIANTS: dict[str, tuple[dict, dict, bool]] = {
    "adam": ({}, {}, False),
    "adam-lr1e-2": ({"lr": 1e-2}, {}, False),
    "adam-lr2e-2": ({"lr": 2e-2}, {}, False),
    "he+lr1e-2": ({"lr": 1e-2}, {}, True),
    "adam-b0.99": ({"betas": (0.9, 0.99)}, {}, False),
    "adam-warmup0.03": ({"warmup": 0.03}, {}, False),
    "batch1": ({"batch_size": 1}, {}, False),
    "muon5e-3": ({"optimizer": "muon", "muon_lr": 5e-3}, {}, False),
    "muon1e-2": ({"optimizer": "muon", "muon_lr": 1e-2}, {}, False),
    "muon2e-2": ({"optimizer": "muon", "muon_lr": 2e-2}, {}, False),
    "muon4e-2": ({"optimizer": "muon", "muon_lr": 4e-2}, {}, False),
    "muon8e-2": ({"optimizer": "muon", "muon_lr": 8e-2}, {}, False),
    "muon2e-2+lr1e-2": ({"optimizer": "muon", "muon_lr": 2e-2, "lr": 1e-2}, {}, False),
    "muon4e-2+lr1e-2": ({"optimizer": "muon", "muon_lr": 4e-2, "lr": 1e-2}, {}, False),
    "muon2e-2+he": ({"optimizer": "muon", "muon_lr": 2e-2}, {}, True),
    "muon4e-2+he": ({"optimizer": "muon", "muon_lr": 4e-2}, {}, True),
    "muon2e-2+batch1": ({"optimizer": "muon", "muon_lr": 2e-2, "batch_size": 1}, {}, False),
    "muon2e-2+warmup0.03": ({"optimizer": "muon", "muon_lr": 2e-2, "warmup": 0.03}, {}, False),
}


def run_one(frames_path: str, model: str, params: int, epochs: int, device: str, variant: str, seed: int,
            threads: int) -> dict:
    from nvcodec.training.encoder import psnr_of
    from nvcodec.training.fit import FitConfig, fit
    from nvcodec.io import Video, VideoInfo
    from nvcodec.models import model_class
    from levers import kaiming  # bench/levers.py: on the path (see the top)

    torch.set_num_threads(threads)  # the workers share the cores: oversubscribed, OpenMP spins
    frames = np.load(frames_path)
    t, h, w, _ = frames.shape
    video = Video(frames, VideoInfo(width=w, height=h, frames=t))
    changes, options, he = VARIANTS[variant]
    cls = model_class(model)
    torch.manual_seed(seed)
    net = cls(cls.configure(w, h, t, params, **options))
    if he:
        kaiming(net)
    began = time.perf_counter()
    result = fit(net, frames, FitConfig(epochs=epochs, device=device, seed=seed, quiet=True, **changes))
    seconds = time.perf_counter() - began
    with torch.no_grad():
        net.prepare_storage(torch.from_numpy(frames).to(device))
        psnr = psnr_of(net, video)
    curve = [(r["epoch"], r["psnr"]) for r in result.history[:: max(1, epochs // 15)]]
    return {"variant": variant, "seed": seed, "psnr_rgb": round(psnr, 3), "epochs": result.epochs,
            "seconds": round(seconds, 1), "train_psnr_curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--model", default="nerv")
    parser.add_argument("--params", type=parse_count, default=100_000)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    from nvcodec.io import parse_size, read_video

    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"optimizer_screen.py: unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    video = read_video(args.clip, size=parse_size(args.size))
    output = Path(args.output or Path(__file__).resolve().parent /
                  f"optimizer-screen-{Path(args.clip).stem}-{int(args.params) // 1000}k-{args.epochs}ep.json")
    report = {"command": " ".join(["python", "bench/studies/2026-11-26-optimizer-screen/optimizer_screen.py"] + sys.argv[1:]), "clip": args.clip,
              "size": args.size, "model": args.model, "params": int(args.params), "epochs": args.epochs,
              "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
              "torch": torch.__version__, "workers": args.workers, "date": time.strftime("%Y-%m-%d"),
              "variants": {}}
    runs: dict[str, list] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = os.path.join(tmp, "frames.npy")
        np.save(frames_path, video.frames)
        threads = max(1, (os.cpu_count() or 1) // args.workers)
        jobs = [(v, s) for s in range(args.seeds) for v in variants]
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_one, frames_path, args.model, int(args.params), args.epochs, args.device,
                                   v, s, threads): v for v, s in jobs}
            for f in cf.as_completed(futures):
                r = f.result()
                runs[r["variant"]].append(r)
                print(f"{r['variant']:>22} seed {r['seed']}: {r['psnr_rgb']:.2f} dB ({r['seconds']:.0f} s)", flush=True)
                report["variants"] = {v: {"psnr_rgb": statistics.median(x["psnr_rgb"] for x in rs), "runs": rs}
                                      for v, rs in runs.items() if rs}
                output.write_text(json.dumps(report, indent=1) + "\n")
    base = report["variants"].get("adam", {}).get("psnr_rgb")
    for v, r in sorted(report["variants"].items(), key=lambda kv: -kv[1]["psnr_rgb"]):
        gain = f"{r['psnr_rgb'] - base:+.2f} dB" if base is not None else ""
        print(f"{v:>22}: {r['psnr_rgb']:.2f} dB {gain}")


if __name__ == "__main__":
    main()
