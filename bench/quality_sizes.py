"""Which network size suits which --quality at a fixed wall-time budget (calibrates the default size).

    python bench/quality_sizes.py --clips carphone bunny --seconds 60 --qualities 18 30 --params 20k 60k 150k

Each (clip, quality, size) is encoded once with rate-aware fitting, runs one at a time; bytes are
the file's and PSNR-RGB that of the standalone decoder's frames. Output:
bench/results/quality-sizes.json (points and, per clip and quality, the size with the best
PSNR per bit: the lowest D + lambda * R measured).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nvcodec.cli import parse_count
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import read_video, write_atomic
from nvcodec.metrics import psnr_rgb
from nvcodec.rd.provenance import provenance
from nvcodec.training.rate import quality_to_lambda
from nvcodec.rd.runner import Clip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["carphone", "bunny"])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--qualities", nargs="+", type=int, default=[18, 30])
    parser.add_argument("--params", nargs="+", default=["20k", "60k", "150k"])
    args = parser.parse_args()
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            clip = Clip.parse(name)
            video = read_video(clip.source, size=clip.size)
            info = video.info
            for quality in args.qualities:
                for size in args.params:
                    params = parse_count(size)
                    path = Path(tmp) / "p.nvc"
                    r = encode_video(video, path, params=params, quality=quality,
                                     fit_config=FitConfig(time_budget=args.seconds, quiet=True))
                    psnr = psnr_rgb(decode_frames(path), video.frames)
                    mse = 10 ** (-psnr / 10)  # the MSE (values in [0, 1]) of that PSNR
                    point = {"clip": clip.label, "quality": quality, "params": params, "stored": r.parameters,
                             "bytes": r.bytes, "bpp": r.bpp, "psnr-rgb": psnr, "epochs": r.fit.epochs,
                             "pixels": info.frames * info.width * info.height,
                             "rd_cost": mse + quality_to_lambda(quality) * r.bpp,
                             "estimated_bits": r.estimated_bits, "coded_bits": r.coded_bits}
                    points.append(point)
                    print(json.dumps(point), flush=True)
    best = {}
    for p in points:
        key = f"{p['clip']} q{p['quality']}"
        if key not in best or p["rd_cost"] < best[key]["rd_cost"]:
            best[key] = p
    report = {"seconds": args.seconds, "points": points,
              "best": {k: {"params": v["params"], "params_per_pixel": v["params"] / v["pixels"]} for k, v in best.items()},
              "provenance": provenance()}
    path = Path("bench/results/quality-sizes.json")
    write_atomic(path, (json.dumps(report, indent=1) + "\n").encode())
    print(json.dumps(report["best"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
