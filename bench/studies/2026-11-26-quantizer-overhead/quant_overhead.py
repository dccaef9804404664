"""What rate-aware fitting costs per epoch over fitting in float, in each phase of its plan.

    python bench/studies/2026-11-26-quantizer-overhead/quant_overhead.py [--clips bunny bikes] [--params 95000] [--repeats 3]

A NeRV of ``--params`` parameters is fitted for a few epochs with no quantization (float), soft
rounding plus noise (soft) and hard rounding (hard), the three interleaved, ``--repeats`` times;
seconds per epoch are timed after the first epoch (warm-up) and the medians compared; one
unmeasured fit first (the first fit of a process runs slower).
Output: bench/studies/2026-11-26-quantizer-overhead/quant-overhead.json (``--output``).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from nvcodec.training.fit import FitConfig, fit
from nvcodec.io import read_video, write_atomic
from nvcodec.models import model_class
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import DEFAULT_SIZES

PLANS = {"float": {}, "soft": {"rate_lambda": 0.01, "quant_start": 0.0, "hard_start": 1.0},
         "hard": {"rate_lambda": 0.01, "quant_start": 0.0, "hard_start": 0.0}}


def seconds_per_epoch(video, params: int, plan: str, epochs: int) -> float:
    cls = model_class("nerv")
    torch.manual_seed(0)
    net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
    history = fit(net, video.frames, FitConfig(epochs=epochs, quiet=True, **PLANS[plan])).history
    return (history[-1]["seconds"] - history[0]["seconds"]) / (len(history) - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "bikes"])
    parser.add_argument("--params", type=int, default=95_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "quant-overhead.json"))
    args = parser.parse_args()
    rows = []
    for clip in args.clips:
        video = read_video(clip, size=DEFAULT_SIZES.get(clip))
        runs = {plan: [] for plan in PLANS}
        seconds_per_epoch(video, args.params, "soft", 2)  # unmeasured: a process's first fit runs slower
        for _ in range(args.repeats):
            for plan in PLANS:
                runs[plan].append(seconds_per_epoch(video, args.params, plan, args.epochs))
        median = {plan: statistics.median(v) for plan, v in runs.items()}
        row = {"clip": clip, "frames": video.info.frames, "size": [video.info.width, video.info.height],
               "seconds_per_epoch": {p: [round(x, 4) for x in v] for p, v in runs.items()},
               "median_s": {p: round(m, 4) for p, m in median.items()},
               "overhead_pct": {p: round(100 * (median[p] / median["float"] - 1), 1) for p in ("soft", "hard")}}
        rows.append(row)
        print(f"{clip}: s/epoch float {median['float']:.3f}, soft {median['soft']:.3f} "
              f"({row['overhead_pct']['soft']:+.0f} %), hard {median['hard']:.3f} ({row['overhead_pct']['hard']:+.0f} %)")
    report = {"model": "nerv", "params": args.params, "epochs": args.epochs, "repeats": args.repeats,
              "rows": rows, "provenance": provenance()}
    write_atomic(Path(args.output), (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
