"""Issue 27's speed and memory targets for the feature-grid model (hinerv, its default shape),
written to bench/results/grid-targets.json.

    python bench/grid_targets.py [--epochs 10] [--repeats 3] [--params 100000] [--size 320x180]

1. fitting: ms per epoch of hinerv against NeRV at the same parameter budget on bunny (320x180),
   float32 fits of ``--epochs`` epochs, runs interleaved (the machine is shared and noisy), medians;
   target: hinerv at most 2.5x NeRV's;
2. decoding: frames per second the standalone decoder renders from hinerv's file (the fitted
   model, compressed, loaded back), median of three; target: at least 100 at 320x180;
3. memory: peak RSS of ``nvcodec encode bunny --model hinerv`` at the full 1280x720, 132 frames, one
   epoch, in a child process; target: under 2 GiB.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nvcodec.bitstream.decoder import load_bitstream, render
from nvcodec.io import read_video
from nvcodec.models import model_class
from nvcodec.rd.provenance import provenance
from nvcodec.training.encoder import compress
from nvcodec.training.fit import FitConfig, fit

TARGETS = {"epoch_ratio_max": 2.5, "decode_fps_min": 100.0, "encode_720p_peak_gib_max": 2.0}


def fit_run(video, model: str, params: int, epochs: int) -> tuple[float, torch.nn.Module]:
    cls = model_class(model)
    torch.manual_seed(0)
    net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
    result = fit(net, video.frames, FitConfig(epochs=epochs, quiet=True))
    return 1000 * result.seconds / result.epochs, net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--params", type=int, default=100_000)
    parser.add_argument("--size", default="320x180", help="the fitting and decoding size WxH")
    parser.add_argument("--memory-epochs", type=int, default=1, help="epochs of the 720p encode (0: skip it)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "grid-targets.json"))
    args = parser.parse_args()
    record = provenance(" ".join(["python", "bench/grid_targets.py", *sys.argv[1:]]))
    width, height = (int(v) for v in args.size.split("x"))
    video = read_video("bunny", size=(width, height))

    runs: dict[str, list[float]] = {"nerv": [], "hinerv": []}
    grid_model = None
    for _ in range(args.repeats):
        for model in runs:  # interleaved
            ms, net = fit_run(video, model, args.params, args.epochs)
            runs[model].append(ms)
            grid_model = net if model == "hinerv" else grid_model
            print(f"{model}: {ms:.0f} ms/epoch", flush=True)
    medians = {m: statistics.median(v) for m, v in runs.items()}
    fitting = {"ms_per_epoch": medians, "runs": runs, "ratio": medians["hinerv"] / medians["nerv"]}

    stream = load_bitstream(compress(grid_model, video.info))  # what the decoder rebuilds from the bytes
    fps = []
    for _ in range(3):
        began = time.perf_counter()
        n = sum(len(b) for b in render(stream.model, stream.info, list(range(stream.info.frames))))
        fps.append(n / (time.perf_counter() - began))
    decoding = {"render_fps": statistics.median(fps), "runs": fps, "threads": torch.get_num_threads(),
                "parameters": stream.model.num_stored_parameters()}
    print(f"hinerv decodes {decoding['render_fps']:.0f} frames/s at {args.size}", flush=True)

    memory = None
    if args.memory_epochs:
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "nvcodec", "encode", "bunny", "-o", f"{tmp}/b.nvc", "--model", "hinerv",
                       "--epochs", str(args.memory_epochs), "--params", str(args.params), "--quiet",
                       "--checkpoint-every", "0"]
            began = time.perf_counter()
            subprocess.run(command, check=True)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        memory = {"command": " ".join(command[2:]), "peak_rss_gib": peak / 2**30, "seconds": time.perf_counter() - began}
        print(f"encoding bunny 1280x720 with hinerv: peak RSS {memory['peak_rss_gib']:.2f} GiB", flush=True)

    met = {"epoch_ratio": fitting["ratio"] <= TARGETS["epoch_ratio_max"],
           "decode_fps": decoding["render_fps"] >= TARGETS["decode_fps_min"],
           **({"encode_720p_memory": memory["peak_rss_gib"] < TARGETS["encode_720p_peak_gib_max"]} if memory else {})}
    report = {"name": "grid-targets", "description": "hinerv's speed and memory against issue 27's targets",
              "clip": f"bunny {args.size}", "params": args.params, "epochs": args.epochs, "targets": TARGETS,
              "met": met, "results": {"fitting": fitting, "decoding": decoding, "memory": memory}, "meta": record}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}: {met}")


if __name__ == "__main__":
    main()
