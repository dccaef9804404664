"""Native yuv420 fitting vs RGB fitting at equal rate and wall time (issue 12, item 3).

    python bench/studies/2026-11-26-yuv420/yuv420.py [--clips bunny bikes] [--rates 0.05,0.1] [--budget 60] [-o bench/studies/2026-11-26-yuv420/yuv420.json]

For each clip and target rate, `encode_video(..., target_bpp=R)` (rate control, NeRV, the
default path) once fitting RGB and once fitting yuv420 (Y full, U and V half resolution, the
loss PSNR-YUV's 6:1:1), the two interleaved. Both files are decoded by the standalone decoder
and scored as the benchmark scores every codec (`rd.score`): PSNR-YUV on yuv420p planes against
the source's planes (the RGB file's frames converted with the clip's matrix; the yuv420 file's
own planes), and PSNR-RGB.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


from nvcodec.bitstream.decoder import decode_frames, decode_yuv420
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import read_video
from nvcodec.rd.runner import DEFAULT_SIZES, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "bikes"])
    parser.add_argument("--rates", default="0.05,0.1")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "yuv420.json"))
    args = parser.parse_args()
    report = {"command": " ".join(["python", "bench/studies/2026-11-26-yuv420/yuv420.py"] + sys.argv[1:]), "budget_s": args.budget,
              "date": time.strftime("%Y-%m-%d"), "points": []}
    tmp = Path(tempfile.mkdtemp())
    for clip in args.clips:
        video = read_video(clip, size=DEFAULT_SIZES.get(clip), keep_yuv=True)
        for rate in map(float, args.rates.split(",")):
            for colorspace in ("rgb", "yuv420"):
                path = tmp / f"{clip}-{rate}-{colorspace}.nvc"
                r = encode_video(video, path, target_bpp=rate, colorspace=colorspace,
                                 fit_config=FitConfig(time_budget=args.budget, quiet=True))
                rgb = decode_frames(path)
                yuv = decode_yuv420(path) if colorspace == "yuv420" else None
                s = score(video, rgb, yuv, ms_ssim=False)
                point = {"clip": clip, "target_bpp": rate, "colorspace": colorspace, "bpp": round(r.bpp, 5),
                         "epochs": r.fit.epochs, "parameters": r.parameters,
                         **{k: round(v, 3) for k, v in s.items() if v is not None}}
                report["points"].append(point)
                print(point, flush=True)
                Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
