"""Why HNeRV stayed at the mean frame on bikes (issue 12), and what each fix is worth.

    python bench/studies/2026-11-26-hnerv-bikes/hnerv_bikes.py [--budget 60] [-o bench/studies/2026-11-26-hnerv-bikes/hnerv-bikes.json]

The issue's command (`nvcodec encode bikes --size 320x136 --model hnerv --time-budget 1m`, the
default quality) with the fixes switched on one at a time, from how HNeRV was before them:
the encoder learning at the decoder's rate (it collapsed to one embedding for every frame),
kernels up to 5, PyTorch's default initialisation of the upsampling convolutions. Each file
is decoded by the standalone decoder and scored against the clip (PSNR-RGB).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nvcodec.models.hnerv as hnerv
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import read_video
from nvcodec.metrics import frame_psnr

#: name -> (encoder lr scale, max_kernel, He initialisation of the upsampling convolutions)
VARIANTS = {
    "before": (1.0, 5, False),
    "encoder-lr": (0.05, 5, False),
    "encoder-lr+kaiming": (0.05, 5, True),
    "encoder-lr+kernel3": (0.05, 3, False),
    "now (all three)": (0.05, 3, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "hnerv-bikes.json"))
    args = parser.parse_args()
    video = read_video("bikes", size=(320, 136))
    report = {"command": " ".join(["python", "bench/studies/2026-11-26-hnerv-bikes/hnerv_bikes.py"] + sys.argv[1:]), "clip": "bikes 320x136",
              "budget_s": args.budget, "date": time.strftime("%Y-%m-%d"), "variants": {}}
    for name, (scale, kernel, kaiming) in VARIANTS.items():
        hnerv.ENCODER_LR_SCALE, hnerv.HE_INIT = scale, kaiming
        path = Path(tempfile.mkdtemp()) / "h.nvc"
        r = encode_video(video, path, model="hnerv", model_options={"max_kernel": kernel},
                         fit_config=FitConfig(time_budget=args.budget, quiet=True))
        decoded = float(np.mean(frame_psnr(decode_frames(path), video.frames)))
        report["variants"][name] = {"encoder_lr_scale": scale, "max_kernel": kernel, "he_init": kaiming,
                                    "epochs": r.fit.epochs, "bpp": round(r.bpp, 4), "psnr_rgb_decoded": round(decoded, 3),
                                    "psnr_per_epoch": [h["psnr"] for h in r.fit.history]}
        print(name, report["variants"][name], flush=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
