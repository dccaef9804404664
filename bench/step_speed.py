"""What a fitting step costs, change by change: glibc keeping freed memory, the channels_last
block path, Adam's fused kernel (issue 12's "threads, the data path" lever).

    python bench/step_speed.py [--clips bunny bikes] [--params 100k] [--epochs 8] [--repeats 3]
                               [-o bench/results/step-speed.json]

Each variant runs in a fresh process (glibc's malloc settings are process-wide), variants
interleaved inside each repeat, so the machine's noise spreads over all of them. A process
fits NeRV for one unmeasured epoch (oneDNN creates its kernels), then for ``--epochs`` epochs
with nvcodec's own ``fit`` (float fitting, the defaults otherwise), and reports ms per epoch and
minor page faults per step (getrusage). Variants, cumulative:

    before        glibc's default malloc, PyTorch's Conv -> PixelShuffle -> GELU layers, Adam's per-tensor loop
    keep-memory   + resources.keep_freed_memory()
    conv-shuffle  + blocks.conv_shuffle in channels_last
    fused-adam    + Adam(fused=True)                          (nvcodec's defaults)
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ["before", "keep-memory", "conv-shuffle", "fused-adam"]
SIZES = {"bunny": "320x180", "bikes": "320x136", "carphone": "176x144"}


def child(clip: str, params: int, epochs: int, variant: str) -> dict:
    import torch

    import nvcodec.fit as fitting
    import nvcodec.models.blocks as blocks
    from nvcodec.io import parse_size, read_video
    from nvcodec.models import model_class

    level = VARIANTS.index(variant)
    if level < 1:
        fitting.keep_freed_memory = lambda: False
    if level < 2:
        blocks.dense_channels_last = lambda x: False
    if level < 3:
        fitting.FUSED_ADAM = False
    video = read_video(clip, size=parse_size(SIZES[clip]))
    cls = model_class("nerv")

    def run(n: int) -> tuple[float, int, int]:
        torch.manual_seed(0)
        net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        result = fitting.fit(net, video.frames, fitting.FitConfig(epochs=n, quiet=True))
        return result.seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, result.epochs

    run(1)
    seconds, faults, done = run(epochs)
    steps = done * -(-video.info.frames // 2)
    return {"ms_per_epoch": round(1000 * seconds / done, 1), "ms_per_step": round(1000 * seconds / steps, 2),
            "page_faults_per_step": round(faults / steps), "epochs": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "bikes"])
    parser.add_argument("--params", type=float, default=100e3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # a child process's
    parser.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "step-speed.json"))
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(child(args.clips[0], int(args.params), args.epochs, args.variant)))
        return
    runs: dict[str, dict[str, list]] = {c: {v: [] for v in VARIANTS} for c in args.clips}
    for _ in range(args.repeats):
        for clip in args.clips:
            for variant in VARIANTS:
                out = subprocess.run([sys.executable, __file__, "--clips", clip, "--params", str(args.params),
                                      "--epochs", str(args.epochs), "--variant", variant],
                                     check=True, capture_output=True, text=True).stdout
                runs[clip][variant].append(json.loads(out.strip().splitlines()[-1]))
                print(clip, variant, runs[clip][variant][-1], flush=True)
    from nvcodec.provenance import provenance

    summary = {clip: {v: {"ms_per_epoch": statistics.median(r["ms_per_epoch"] for r in rs),
                          "page_faults_per_step": statistics.median(r["page_faults_per_step"] for r in rs),
                          "runs": rs} for v, rs in by.items()} for clip, by in runs.items()}
    for clip, by in summary.items():
        base = by["before"]["ms_per_epoch"]
        for v, s in by.items():
            s["speed_vs_before"] = round(base / s["ms_per_epoch"], 3)
            print(f"{clip:>8} {v:>13}: {s['ms_per_epoch']:7.1f} ms/epoch  x{s['speed_vs_before']:.2f}  "
                  f"{s['page_faults_per_step']:6.0f} page faults a step")
    report = {"command": " ".join(["python", "bench/step_speed.py"] + sys.argv[1:]), "model": "nerv",
              "params": int(args.params), "epochs": args.epochs, "repeats": args.repeats,
              "date": time.strftime("%Y-%m-%d"), "provenance": provenance(), "clips": summary}
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
