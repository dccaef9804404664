"""Issue 27: does coding the feature grid's time slices as differences (predicted) pay, and does
it carry hinerv past NeRV? Rate control at equal wall time, three encoders side by side.

    python bench/studies/2026-12-07-grid-prediction/prediction.py --clip bunny --budget 120 \
        --rates 0.025,0.05,0.1,0.2 -o OUT.json

For each target rate, in turn (interleaved: the machine's drift falls on all of them), one run each
of ``--encoders`` (the first is the reference of the BD-rates): ``nerv``; ``hinerv-unpredicted``:
hinerv with its grids coded and rated value by value (``HiNeRV.predicted_tensors`` empty for that
encode; the same channel-first layout and steps); ``hinerv``: as it ships, each grid slice coded as
its difference from the slice before, its rate counted so while fitting; ``hinerv-t2`` /
``hinerv-t1``: hinerv with a slice every 2nd frame and 4 channels / every frame and 2 channels
(the same grid size: finer in time, narrower); ``hinerv-t2c8``: a slice every 2nd frame and 8
channels (twice the grid: at a given size, a narrower trunk); each its ``grid`` shape swapped for
that encode. Each file is decoded by the standalone decoder on this CPU and scored as
``nvcodec bench`` scores a point (``nvcodec.rd.runner.nvcodec_rd_point``). The JSON holds each
encoder's curve in CompressAI's shape and the BD-rate (PSNR-RGB, PCHIP and cubic) of each against
the first; it is rewritten after every point.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Iterator
from unittest import mock

from nvcodec.io import read_video
from nvcodec.metrics import bd_rate, frames_sha256, overlap
from nvcodec.models.hinerv import SHAPES, HiNeRV
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import Clip, nvcodec_rd_point

KEYS = ("bpp", "psnr-rgb", "psnr-yuv", "ms-ssim-rgb", "encode_s", "decode_s", "epochs", "parameters", "target-bpp",
        "estimated-value-bytes", "coded-value-bytes")
ENCODERS = ("nerv", "hinerv-unpredicted", "hinerv")
#: the base grid (slices a frame, channels) of the finer-in-time variants
FINER = {"hinerv-t2": [(0.5, 4)], "hinerv-t1": [(1.0, 2)], "hinerv-t2c8": [(0.5, 8)]}


@contextlib.contextmanager
def variant(name: str) -> Iterator[str]:
    """The model to encode with, and for a variant of hinerv its change meanwhile."""
    if name == "hinerv-unpredicted":
        with mock.patch.object(HiNeRV, "predicted_tensors", lambda self: frozenset()):
            yield "hinerv"
    elif name in FINER:
        with mock.patch.dict(SHAPES, {"grid": {**SHAPES["grid"], "base": FINER[name]}}):
            yield "hinerv"
    else:
        yield name


def bd_rows(points: dict[str, list]) -> dict[str, dict]:
    encoders = list(points)
    ref = points[encoders[0]]
    out = {}
    for m in encoders[1:]:
        test = points[m]
        if len(ref) < 2 or len(test) < 2:
            continue
        curves = ([p["bpp"] for p in ref], [p["psnr-rgb"] for p in ref],
                  [p["bpp"] for p in test], [p["psnr-rgb"] for p in test])
        shared = overlap(curves[1], curves[3])
        out[f"{m} vs {encoders[0]}"] = {"pchip": round(bd_rate(*curves, method="pchip"), 2),
                                        "cubic": round(bd_rate(*curves, method="cubic"), 2),
                                        "psnr_overlap": None if shared is None else [round(x, 3) for x in shared]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bunny", help="a bundled clip or a path, NAME[@WxH] (bench's sizes by default)")
    ap.add_argument("--rates", default="0.025,0.05,0.1,0.2")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds of encoding per point")
    ap.add_argument("--encoders", default=",".join(ENCODERS), help=f"of {', '.join([*ENCODERS, *FINER])}")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    clip = Clip.parse(args.clip)
    video = read_video(clip.source, frames=clip.frames, size=clip.size, keep_yuv=True)
    rates = [float(r) for r in args.rates.split(",")]
    encoders = args.encoders.split(",")
    unknown = set(encoders) - {*ENCODERS, *FINER}
    if unknown:
        ap.error(f"unknown encoders {sorted(unknown)}")
    points: dict[str, list] = {m: [] for m in encoders}
    out = Path(args.output)
    record = provenance(" ".join(["python", *sys.argv]))  # taken before the run: the code that ran

    def save() -> None:
        curves = {m: {"name": f"nvcodec-{m}-rc-{args.budget:g}s", "description": f"{m}, rate control, {args.budget:g} s a point",
                      "results": {k: [p.get(k) for p in ps] for k in KEYS}} for m, ps in points.items()}
        report = {"question": "does coding hinerv's grid slices as differences pay, and does it beat NeRV (issue 27)",
                  "clip": clip.label, "size": [video.info.width, video.info.height], "frames": video.info.frames,
                  "budget_s": args.budget, "rates": rates,
                  "order": "interleaved: for each rate, each encoder in turn; one run a point",
                  "reference_sha256": frames_sha256(video.frames), "curves": curves, "bd_rate_psnr_rgb": bd_rows(points),
                  "meta": record}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            for m in encoders:
                with variant(m) as model:
                    p = nvcodec_rd_point(video, model, "rate-control", rate, args.budget, None, Path(tmp) / f"{m}-{rate}.nvc")
                points[m].append(p)
                print(f"{m} @ {rate}: {p['bpp']:.4f} bpp, {p['psnr-rgb']:.2f} dB, {p['epochs']} epochs", flush=True)
                save()


if __name__ == "__main__":
    main()
