"""Speed and memory of nvcodec on this machine (issue 2's figures), written to bench/results/speed.json.

    python bench/speed.py [--epochs 30] [--repeats 2]

1. fitting with and without bf16 autocast (channels_last both): ms per epoch and PSNR-RGB at
   equal epochs, on bunny 320x180, runs interleaved, medians reported;
2. the decoder's rendering speed (frames per second) for the demo's model at 320x180;
3. peak memory (RSS) of `nvcodec encode bunny` at its full 1280x720, 132 frames, one epoch.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nvcodec.bitstream.decoder import render
from nvcodec.demo import DEMO_SIZE
from nvcodec.training.encoder import DEFAULT_MODEL, DEFAULT_QUALITY, default_params
from nvcodec.training.fit import FitConfig, cpu_has_bf16, fit
from nvcodec.io import read_video
from nvcodec.models import model_class

DEMO_PARAMS = default_params(DEFAULT_QUALITY)  # the demo's network


def fit_run(video, epochs: int, bf16: bool) -> dict:
    cls = model_class(DEFAULT_MODEL)
    torch.manual_seed(0)
    model = cls(cls.configure(video.info.width, video.info.height, video.info.frames, DEMO_PARAMS))
    result = fit(model, video.frames, FitConfig(epochs=epochs, bf16=bf16, quiet=True))
    return {"ms_per_epoch": 1000 * result.seconds / result.epochs, "psnr": result.psnr, "model": model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "speed.json"))
    args = parser.parse_args()

    video = read_video("bunny", size=DEMO_SIZE)
    runs = {True: [], False: []}
    model = None
    for _ in range(args.repeats):
        for bf16 in (True, False):  # interleaved: the machine is shared and noisy
            r = fit_run(video, args.epochs, bf16)
            model = r.pop("model")
            runs[bf16].append(r)
            print(f"bf16={bf16}: {r['ms_per_epoch']:.0f} ms/epoch, PSNR {r['psnr']:.2f} dB", flush=True)
    fitting = {("bf16" if k else "fp32"): {"ms_per_epoch": statistics.median(x["ms_per_epoch"] for x in v),
                                            "psnr_rgb": statistics.median(x["psnr"] for x in v), "runs": v}
               for k, v in runs.items()}
    fitting["speedup"] = fitting["fp32"]["ms_per_epoch"] / fitting["bf16"]["ms_per_epoch"]

    model.to("cpu").eval()
    fps = []
    for _ in range(3):
        began = time.perf_counter()
        n = sum(len(b) for b in render(model, video.info, list(range(video.info.frames))))
        fps.append(n / (time.perf_counter() - began))
    decoding = {"render_fps": statistics.median(fps), "runs": fps, "threads": torch.get_num_threads()}
    print(f"decoder renders {decoding['render_fps']:.0f} fps at {DEMO_SIZE[0]}x{DEMO_SIZE[1]}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "nvcodec", "encode", "bunny", "-o", f"{tmp}/b.nvc", "--epochs", "1",
                   "--params", str(DEMO_PARAMS), "--quiet", "--checkpoint-every", "0"]
        began = time.perf_counter()
        subprocess.run(command, check=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    memory = {"command": " ".join(command[2:]), "peak_rss_bytes": peak, "peak_rss_gib": peak / 2**30,
              "seconds": time.perf_counter() - began}
    print(f"encoding bunny 1280x720 (132 frames, 1 epoch): peak RSS {memory['peak_rss_gib']:.2f} GiB", flush=True)

    report = {"name": "speed", "description": "fitting speed with/without bf16, decoder fps, peak encode memory",
              "results": {"fitting": fitting, "decoding": decoding, "memory": memory},
              "meta": {"command": "python bench/speed.py " + " ".join(sys.argv[1:]), "epochs": args.epochs,
                       "clip": f"bunny {DEMO_SIZE[0]}x{DEMO_SIZE[1]}", "model": DEFAULT_MODEL, "params": DEMO_PARAMS,
                       "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, avx512_bf16={cpu_has_bf16()}",
                       "torch": torch.__version__, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
