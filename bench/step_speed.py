"""What a fitting step costs, change by change: glibc keeping freed memory, the channels_last
block path, Adam's fused kernel (issue 12's "threads, the data path" lever).

    python bench/step_speed.py [--clips bunny bikes] [--params 100k] [--epochs 8] [--repeats 3]
                               [-o bench/results/step-speed.json]
    python bench/step_speed.py --budget 60 --variants before,fused-adam --clips bunny bikes carphone
                               --repeats 2 -o bench/results/step-speed-60s.json

With ``--budget S`` each process fits for S seconds instead (after the same one-epoch warm-up)
and also reports the PSNR-RGB of the fitted network's frames (float, before quantization):
what the faster steps buy at equal wall time.

Each variant runs in a fresh process (glibc's malloc settings are process-wide), variants
interleaved inside each repeat, so the machine's noise spreads over all of them. A process
fits NeRV for one unmeasured epoch (oneDNN creates its kernels), then for ``--epochs`` epochs
with nvcodec's own ``fit`` (float fitting, the defaults otherwise), and reports ms per epoch and
minor page faults per step (getrusage). Variants, cumulative:

    before        glibc's default malloc, PyTorch's Conv -> PixelShuffle -> GELU layers, Adam's per-tensor loop
    keep-memory   + resources.keep_freed_memory()
    conv-shuffle  + blocks.conv_shuffle in channels_last
    fused-adam    + Adam(fused=True)                          (nvcodec's defaults)
    muon          the defaults with FitConfig(optimizer="muon", muon_lr=5e-3) (not cumulative: an option)
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

VARIANTS = ["before", "keep-memory", "conv-shuffle", "fused-adam", "muon"]
SIZES = {"bunny": "320x180", "bikes": "320x136", "carphone": "176x144"}


def child(clip: str, params: int, epochs: int, variant: str, budget: float | None = None) -> dict:
    import torch

    import nvcodec.training.fit as fitting
    import nvcodec.models.blocks as blocks
    from nvcodec.training.encoder import psnr_of
    from nvcodec.io import parse_size, read_video
    from nvcodec.models import model_class

    level = VARIANTS.index(variant)
    options = {"optimizer": "muon", "muon_lr": 5e-3} if variant == "muon" else {}
    if level < 1:
        fitting.keep_freed_memory = lambda: False
    if level < 2:
        blocks.dense_channels_last = lambda x: False
    if level < 3:
        fitting.FUSED_ADAM = False
    video = read_video(clip, size=parse_size(SIZES[clip]))
    cls = model_class("nerv")

    def run(n: int | None, seconds: float | None = None):
        torch.manual_seed(0)
        net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        result = fitting.fit(net, video.frames, fitting.FitConfig(epochs=n, time_budget=seconds, quiet=True,
                                                                      **options))
        return result, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, net

    run(1)
    result, faults, net = run(None if budget else epochs, budget)
    done = result.epochs
    steps = done * -(-video.info.frames // 2)
    out = {"ms_per_epoch": round(1000 * result.seconds / done, 1),
           "ms_per_step": round(1000 * result.seconds / steps, 2),
           "page_faults_per_step": round(faults / steps), "epochs": done}
    if budget:
        with torch.no_grad():
            net.prepare_storage(torch.from_numpy(video.frames))
        out["psnr_rgb"] = round(psnr_of(net, video), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "bikes"])
    parser.add_argument("--params", type=float, default=100e3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds of fitting (instead of --epochs)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # a child process's
    parser.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "step-speed.json"))
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(child(args.clips[0], int(args.params), args.epochs, args.variant, args.budget)))
        return
    variants = args.variants.split(",")
    if any(v not in VARIANTS for v in variants) or not variants:
        sys.exit(f"step_speed.py: variants are {', '.join(VARIANTS)}")
    runs: dict[str, dict[str, list]] = {c: {v: [] for v in variants} for c in args.clips}
    for _ in range(args.repeats):
        for clip in args.clips:
            for variant in variants:
                budget = ["--budget", str(args.budget)] if args.budget else []
                out = subprocess.run([sys.executable, __file__, "--clips", clip, "--params", str(args.params),
                                      "--epochs", str(args.epochs), "--variant", variant, *budget],
                                     check=True, capture_output=True, text=True).stdout
                runs[clip][variant].append(json.loads(out.strip().splitlines()[-1]))
                print(clip, variant, runs[clip][variant][-1], flush=True)
    from nvcodec.rd.provenance import provenance

    summary = {clip: {v: {key: statistics.median(r[key] for r in rs) for key in rs[0] if key != "epochs"}
                      | {"runs": rs} for v, rs in by.items()} for clip, by in runs.items()}
    for clip, by in summary.items():
        first = by[variants[0]]
        for v, s in by.items():
            s[f"speed_vs_{variants[0]}"] = round(first["ms_per_epoch"] / s["ms_per_epoch"], 3)
            gain = f"  {s['psnr_rgb']:.2f} dB ({s['psnr_rgb'] - first['psnr_rgb']:+.2f})" if "psnr_rgb" in s else ""
            print(f"{clip:>8} {v:>13}: {s['ms_per_epoch']:7.1f} ms/epoch  x{s[f'speed_vs_{variants[0]}']:.2f}  "
                  f"{s['page_faults_per_step']:6.0f} page faults a step{gain}")
    report = {"command": " ".join(["python", "bench/step_speed.py"] + sys.argv[1:]), "model": "nerv",
              "params": int(args.params), "epochs": None if args.budget else args.epochs,
              "budget_s": args.budget, "repeats": args.repeats,
              "date": time.strftime("%Y-%m-%d"), "provenance": provenance(), "clips": summary}
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
