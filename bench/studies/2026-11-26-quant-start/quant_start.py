"""When should rate-aware fitting start quantizing? Variants of the plan at equal wall time.

    python bench/studies/2026-11-26-quant-start/quant_start.py [--clips bikes bunny] [--starts 0.3 0.6] [--target-bpp 0.05]
                                [--budget 120] [--repeats 2]

Each clip is encoded with rate control at ``--target-bpp`` (so that the variants land at the
same rate and PSNR compares directly) for ``--budget`` seconds, once per quantization start
(the share of the budget fitted in float first), the variants interleaved, ``--repeats``
times; PSNR-RGB of the standalone decoder's frames. Output: bench/studies/2026-11-26-quant-start/quant-start.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import read_video, write_atomic
from nvcodec.metrics import psnr_rgb
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import DEFAULT_SIZES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bikes", "bunny"])
    parser.add_argument("--starts", nargs="+", type=float, default=[0.3, 0.6])
    parser.add_argument("--target-bpp", type=float, default=0.05)
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "quant-start.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            video = read_video(clip, size=DEFAULT_SIZES.get(clip))
            runs = {s: [] for s in args.starts}
            for repeat in range(args.repeats):
                for start in args.starts:
                    path = Path(tmp) / f"{clip}-{start}-{repeat}.nvc"
                    enc = encode_video(video, path, target_bpp=args.target_bpp,
                                       fit_config=FitConfig(time_budget=args.budget, quant_start=start, quiet=True))
                    run = {"bpp": enc.bpp, "psnr_rgb": psnr_rgb(decode_frames(path), video.frames),
                           "epochs": enc.fit.epochs, "parameters": enc.parameters}
                    runs[start].append(run)
                    print(f"{clip} quant_start {start}: {run['bpp']:.4f} bpp, {run['psnr_rgb']:.2f} dB, "
                          f"{run['epochs']} epochs", flush=True)
            rows.append({"clip": clip, "runs": {str(s): r for s, r in runs.items()},
                         "median_psnr_rgb": {str(s): statistics.median(x["psnr_rgb"] for x in r) for s, r in runs.items()},
                         "median_bpp": {str(s): statistics.median(x["bpp"] for x in r) for s, r in runs.items()}})
    report = {"target_bpp": args.target_bpp, "budget_s": args.budget, "repeats": args.repeats, "rows": rows,
              "provenance": provenance()}
    write_atomic(Path(args.output), (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
