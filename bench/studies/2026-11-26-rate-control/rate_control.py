"""Rate control: how close `--target-bpp` lands, and what quality it reaches.

    python bench/studies/2026-11-26-rate-control/rate_control.py --clips carphone bunny --targets 0.05 --seconds 120

Each (clip, target) is encoded once with rate control (lambda steered while fitting), runs one at
a time; bytes are the file's, PSNR-RGB that of the standalone decoder's frames. Output:
bench/studies/2026-11-26-rate-control/rate-control.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import read_video, write_atomic
from nvcodec.metrics import psnr_rgb
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import Clip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["carphone", "bunny"])
    parser.add_argument("--targets", nargs="+", type=float, default=[0.05])
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips:
            clip = Clip.parse(name)
            video = read_video(clip.source, size=clip.size)
            for target in args.targets:
                path = Path(tmp) / "t.nvc"
                r = encode_video(video, path, target_bpp=target, fit_config=FitConfig(time_budget=args.seconds, quiet=True))
                point = {"clip": clip.label, "target_bpp": target, "bytes": path.stat().st_size, "bpp": r.bpp,
                         "off": r.bpp / target - 1, "psnr-rgb": psnr_rgb(decode_frames(path), video.frames),
                         "parameters": r.parameters, "epochs": r.fit.epochs, "final_lambda": r.fit.rate_lambda}
                points.append(point)
                print(json.dumps(point), flush=True)
    report = {"seconds": args.seconds, "points": points, "provenance": provenance()}
    write_atomic(Path(__file__).resolve().parent / "rate-control.json", (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
