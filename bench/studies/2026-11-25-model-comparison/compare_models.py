"""Issue 3's comparison: the models at equal parameter budgets and equal wall-time budgets.

    python bench/studies/2026-11-25-model-comparison/compare_models.py --clip bunny --size 320x180 --seconds 150 --params 300k 1M \
        --models nerv nervpp hnerv

For each (params, model): fit for the wall-time budget, quantize to 8 bits, write the .nvc,
and record PSNR-RGB before and after quantization, bytes written, bpp, epochs and ms per epoch.
Runs go one at a time (two cores); results to bench/studies/2026-11-25-model-comparison/<clip>/models.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from nvcodec.cli import parse_count
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import parse_size, read_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--epochs", type=int, default=None, help="an equal epoch budget instead of equal wall time")
    parser.add_argument("--params", nargs="+", default=["300k", "1M"])
    parser.add_argument("--models", nargs="+", default=["nerv", "nervpp", "hnerv"])
    parser.add_argument("--option", action="append", default=[], metavar="MODEL:KEY=VALUE",
                        help="a model option, e.g. hnerv:max_kernel=3 (adds a variant named hnerv[max_kernel=3])")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    video = read_video(args.clip, size=parse_size(args.size))
    variants = [(m, {}) for m in args.models]
    for opt in args.option:
        model, kv = opt.split(":", 1)
        key, value = kv.split("=", 1)
        variants.append((model, {key: int(value)}))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for params in args.params:
            for model, options in variants:
                label = model + "".join(f"[{k}={v}]" for k, v in options.items())
                torch.manual_seed(0)
                r = encode_video(video, Path(tmp) / "x.nvc", model=model, params=parse_count(params),
                                 model_options=options, fit_config=FitConfig(time_budget=None if args.epochs else args.seconds,
                                                      epochs=args.epochs, quiet=True))
                row = {"model": label, "params_budget": params, "parameters": r.parameters, "bytes": r.bytes,
                       "bpp": r.bpp, "psnr_rgb": r.psnr, "psnr_rgb_float": r.psnr_float, "epochs": r.fit.epochs,
                       "ms_per_epoch": 1000 * r.fit.seconds / max(r.fit.epochs, 1), "encode_s": r.encode_s}
                rows.append(row)
                print(json.dumps(row), flush=True)
    default = f"models-{args.epochs}epochs.json" if args.epochs else "models.json"
    out = Path(args.output or Path(__file__).resolve().parent / args.clip / default)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"name": "models", "description": "nvcodec models at equal parameter and wall-time budgets",
              "results": {k: [r[k] for r in rows] for k in rows[0]},
              "meta": {"command": "python bench/studies/2026-11-25-model-comparison/compare_models.py " + " ".join(sys.argv[1:]),
                       "clip": args.clip, "size": args.size, "budget": f"{args.epochs} epochs" if args.epochs else f"{args.seconds:g} s", "bits": 8,
                       "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                       "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}}
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
