"""Issue 27's probe: which feature-grid shape beats NeRV-100k on a CPU budget?

    python bench/studies/2026-12-04-grid-probe/probe.py --clip bunny --size 320x180 \
        --variants nerv,faithful,cheap,nerv-grid --budget 120 [--epochs N] [--repeats 1] [--rate 0.05] -o OUT.json

Each variant (``nerv``: NeRV at --params; any other name: a shape of nvcodec/models/hinerv.py at
the same parameter count) is fitted for --budget seconds of wall time (or --epochs epochs:
equal epochs) in float, the default fitting (Adam, the model's learning rate, cosine with
warm-up, batch 2, channels_last float32); the score is the PSNR-RGB of the float network's
frames on this CPU, with its epochs and ms per epoch. With --rate, each variant is also encoded
through the whole chain, rate control at that many bpp within the same budget, and the file is
scored from its bytes by the standalone decoder. Variants run in turn inside each repeat (the
machine's drift spreads over all of them); the JSON keeps every run and the medians.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video, psnr_of
from nvcodec.training.fit import FitConfig, fit
from nvcodec.io import parse_size, read_video
from nvcodec.metrics import frames_sha256, psnr_rgb
from nvcodec.models import model_class
from nvcodec.training.parallel import Processes
from nvcodec.rd.provenance import provenance


#: a variant's suffixes (``nerv-grid+random+lr4``) set these attributes of the hinerv model
TWEAKS = {"random": ("content_init", False), "std1": ("grid_std", 1.0), "std0.3": ("grid_std", 0.3),
          "lr2": ("grid_lr_scale", 2.0), "lr4": ("grid_lr_scale", 4.0), "lr10": ("grid_lr_scale", 10.0)}


def build(video, variant: str, params: int):
    info = video.info
    shape, *tweaks = variant.split("+")
    if shape == "nerv":
        cls, options = model_class("nerv"), {}
    else:
        cls, options = model_class("hinerv"), {"shape": shape}
    torch.manual_seed(0)
    net = cls(cls.configure(info.width, info.height, info.frames, params, **options))
    for t in tweaks:
        setattr(net, *TWEAKS[t])
    return net, options


def float_fit(video, variant: str, params: int, budget: float, epochs) -> dict:
    net, _ = build(video, variant, params)
    result = fit(net, video.frames, FitConfig(time_budget=budget, epochs=epochs, quiet=True))
    net.to("cpu")
    grids = sum(p.numel() for p in getattr(net, "grid_parameters", list)())  # NeRV has none
    return {"psnr_rgb": round(psnr_of(net, video), 3), "epochs": result.epochs, "fit_s": round(result.seconds, 1),
            "ms_per_epoch": round(1000 * result.seconds / result.epochs, 1),
            "parameters": net.num_stored_parameters(), "grid_share": round(grids / net.num_stored_parameters(), 3)}


def rate_point(video, variant: str, budget: float, bpp: float) -> dict:
    model, options = ("nerv", {}) if variant == "nerv" else ("hinerv", {"shape": variant})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.nvc"
        enc = encode_video(video, path, model=model, target_bpp=bpp, model_options=options,
                           fit_config=FitConfig(time_budget=budget, quiet=True), processes=Processes())
        psnr = psnr_rgb(decode_frames(path), video.frames)  # the standalone decoder, from the file
    return {"bpp": round(enc.bpp, 5), "psnr_rgb": round(psnr, 3), "epochs": enc.fit.epochs,
            "parameters": enc.parameters}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bunny")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--variants", default="nerv,faithful,cheap,nerv-grid")
    ap.add_argument("--params", type=float, default=100e3)
    ap.add_argument("--budget", type=float, default=120.0, help="seconds of fitting per run")
    ap.add_argument("--epochs", type=int, default=None, help="equal epochs instead (the budget still caps a run)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--rate", type=float, default=None, help="also encode each variant at this target bpp")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    variants = args.variants.split(",")
    video = read_video(args.clip, size=parse_size(args.size))
    float_fit(video, "nerv", int(args.params), 5.0, None)  # warm-up: the first fit in a process runs slower
    runs: dict[str, list] = {v: [] for v in variants}
    rates: dict[str, list] = {v: [] for v in variants}
    out = Path(args.output)

    def save() -> None:
        def med(rs, k):
            return statistics.median(r[k] for r in rs) if rs else None
        report = {"question": "which feature-grid shape beats NeRV-100k per CPU-second (issue 27)",
                  "clip": args.clip, "size": args.size, "frames": video.info.frames, "params": int(args.params),
                  "budget_s": args.budget, "epochs": args.epochs, "repeats": args.repeats,
                  "reference_sha256": frames_sha256(video.frames),
                  "float": {v: {"psnr_rgb": med(rs, "psnr_rgb"), "epochs": med(rs, "epochs"),
                                "ms_per_epoch": med(rs, "ms_per_epoch"), "runs": rs} for v, rs in runs.items()},
                  **({"rate_control": {"target_bpp": args.rate,
                                       **{v: {"bpp": med(rs, "bpp"), "psnr_rgb": med(rs, "psnr_rgb"), "runs": rs}
                                          for v, rs in rates.items()}}} if args.rate else {}),
                  "provenance": provenance(" ".join(["python", *sys.argv]))}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")

    for _ in range(args.repeats):
        for v in variants:
            r = float_fit(video, v, int(args.params), args.budget, args.epochs)
            runs[v].append(r)
            print(f"{v} float: {r}", flush=True)
            save()
        if args.rate:
            for v in variants:
                r = rate_point(video, v, args.budget, args.rate)
                rates[v].append(r)
                print(f"{v} rate {args.rate}: {r}", flush=True)
                save()


if __name__ == "__main__":
    main()
