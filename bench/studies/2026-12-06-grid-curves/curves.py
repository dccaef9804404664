"""Issue 27's decision: the feature-grid model (``hinerv``, its default shape) against NeRV under rate
control, at equal wall time, point by point side by side.

    python bench/studies/2026-12-06-grid-curves/curves.py --clip bunny --budget 120 \
        --rates 0.025,0.05,0.1,0.2 [--models nerv,hinerv] -o OUT.json

For each target rate, each model in turn (interleaved: the machine's drift falls on both) is
encoded with rate control (``nvcodec encode --target-bpp R --time-budget B``, the default path), the
file decoded by the standalone decoder on this CPU and scored against the clip's reference frames,
exactly as ``nvcodec bench`` scores a point (``nvcodec.rd.runner.nvcodec_rd_point``). The JSON
holds each model's curve in CompressAI's shape and the BD-rate (PSNR-RGB, PCHIP and cubic) of every
model against the first, over the PSNR range they share; it is rewritten after every point.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nvcodec.io import read_video
from nvcodec.metrics import bd_rate, frames_sha256, overlap
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import Clip, nvcodec_rd_point

KEYS = ("bpp", "psnr-rgb", "psnr-yuv", "ms-ssim-rgb", "encode_s", "decode_s", "epochs", "parameters", "target-bpp")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bunny", help="a bundled clip or a path, NAME[@WxH] (bench's sizes by default)")
    ap.add_argument("--models", default="nerv,hinerv")
    ap.add_argument("--rates", default="0.025,0.05,0.1,0.2")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds of encoding per point")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    clip = Clip.parse(args.clip)
    video = read_video(clip.source, frames=clip.frames, size=clip.size, keep_yuv=True)
    models = args.models.split(",")
    rates = [float(r) for r in args.rates.split(",")]
    points: dict[str, list] = {m: [] for m in models}
    out = Path(args.output)
    command = " ".join(["python", *sys.argv])
    record = provenance(command)  # taken before the run: the code that ran

    def save() -> None:
        curves = {}
        for m, ps in points.items():
            curves[m] = {"name": f"nvcodec-{m}-rc-{args.budget:g}s",
                         "description": f"{m}, rate control, {args.budget:g} s a point",
                         "results": {k: [p.get(k) for p in ps] for k in KEYS}}
        bd = {}
        ref = points[models[0]]
        for m in models[1:]:
            test = points[m]
            if len(ref) >= 2 and len(test) >= 2:
                args_bd = ([p["bpp"] for p in ref], [p["psnr-rgb"] for p in ref],
                           [p["bpp"] for p in test], [p["psnr-rgb"] for p in test])
                shared = overlap(args_bd[1], args_bd[3])
                bd[f"{m} vs {models[0]}"] = {"pchip": round(bd_rate(*args_bd, method="pchip"), 2),
                                             "cubic": round(bd_rate(*args_bd, method="cubic"), 2),
                                             "psnr_overlap": None if shared is None else [round(x, 3) for x in shared]}
        report = {"question": "does the feature-grid model beat NeRV's rate-control curve at equal wall time (issue 27)",
                  "clip": clip.label, "size": [video.info.width, video.info.height], "frames": video.info.frames,
                  "budget_s": args.budget,
                  "rates": rates, "order": "interleaved: for each rate, each model in turn; one run a point",
                  "reference_sha256": frames_sha256(video.frames), "curves": curves, "bd_rate_psnr_rgb": bd,
                  "meta": record}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            for m in models:
                p = nvcodec_rd_point(video, m, "rate-control", rate, args.budget, None, Path(tmp) / f"{m}-{rate}.nvc")
                points[m].append(p)
                print(f"{m} @ {rate}: {p['bpp']:.4f} bpp, {p['psnr-rgb']:.2f} dB, {p['epochs']} epochs", flush=True)
                save()


if __name__ == "__main__":
    main()
