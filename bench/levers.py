"""Levers for more quality per CPU-second (issue 12), at equal wall time, interleaved.

    python bench/levers.py [--clip bunny] [--size 320x180] [--params 100k] [--budget 60]
                           [--repeats 1] [--levers base,kaiming,lr1e-2,...] [-o bench/results/levers-bunny-100k-60s.json]

Each lever changes one thing from the fitting before issue 12 ("base": NeRV, float fitting, MSE,
Adam at 5e-3, batch 2, cosine with 10 % warm-up, PyTorch's default initialisation of the
upsampling convolutions) and fits the clip for the same seconds; the score is the
PSNR-RGB of the fitted model's frames (float, before any quantization), with the epochs and
ms per epoch it got. Runs go lever by lever inside each repeat, so the machine's noise spreads
over all of them; the JSON keeps every run and the medians.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from nvcodec.training.encoder import psnr_of
from nvcodec.training.fit import FitConfig, fit
from nvcodec.io import parse_size, read_video
from nvcodec.models import INR, model_class
from nvcodec.models.blocks import UpsampleBlock, he_initialize


def kaiming(model: INR) -> None:
    """He-normal weights (fan in, ReLU gain) and zero biases in every upsampling block."""
    for m in model.modules():
        if isinstance(m, UpsampleBlock):
            he_initialize(m[0])


def pytorch_init(model: INR) -> None:
    """PyTorch's default initialisation of the upsampling convolutions (nvcodec's before issue 12)."""
    for m in model.modules():
        if isinstance(m, UpsampleBlock):
            m[0].reset_parameters()


def mlp_lr(scale: float) -> Callable[[INR], None]:
    """The MLP (frame index -> the stem's features, most of NeRV's parameters) learning at
    ``scale`` times the convolutions' rate: its own optimizer group."""
    def apply(model: INR) -> None:
        pytorch_init(model)
        mlp = list(model.mlp.parameters())
        ids = {id(p) for p in mlp}
        rest = [p for p in model.parameters() if id(p) not in ids]
        model.param_groups = lambda: [{"params": mlp, "lr_scale": scale}, {"params": rest, "lr_scale": 1.0}]
    return apply


#: name -> (FitConfig changes, model options, what to do to the built model; None: pytorch_init)
LEVERS: dict[str, tuple[dict, dict, Callable[[INR], None] | None]] = {
    "base": ({}, {}, None),
    "kaiming": ({}, {}, kaiming),
    "lr1e-2": ({"lr": 1e-2}, {}, None),
    "kaiming+lr1e-2": ({"lr": 1e-2}, {}, kaiming),
    "lr2.5e-3": ({"lr": 2.5e-3}, {}, None),
    "batch1": ({"batch_size": 1}, {}, None),
    "batch4": ({"batch_size": 4}, {}, None),
    "warmup0.03": ({"warmup": 0.03}, {}, None),
    "no-bf16": ({"bf16": False}, {}, None),
    "mlp-ratio4": ({}, {"mlp_ratio": 4.0}, None),
    "mlp-ratio8": ({}, {"mlp_ratio": 8.0}, None),
    "reduction1.5": ({}, {"reduction": 1.5}, None),
    "he+lr1e-2+mlp-ratio4": ({"lr": 1e-2}, {"mlp_ratio": 4.0}, kaiming),
    "film": ({}, {"film": True}, None),
    "floor12": ({}, {"channels_floor": 12}, None),
    "floor16": ({}, {"channels_floor": 16}, None),
    "floor20": ({}, {"channels_floor": 20}, None),
    "floor24": ({}, {"channels_floor": 24}, None),
    "floor32": ({}, {"channels_floor": 32}, None),
    "he+lr1e-2+film": ({"lr": 1e-2}, {"film": True}, kaiming),
    "mlp-lr0.5": ({}, {}, mlp_lr(0.5)),
    "mlp-lr2": ({}, {}, mlp_lr(2.0)),
    "mlp-lr4": ({}, {}, mlp_lr(4.0)),
    "coarse0": ({"coarse_share": 0.0}, {}, None),
    "coarse0.1": ({"coarse_share": 0.1}, {}, None),
    "coarse0.2": ({"coarse_share": 0.2}, {}, None),
    "coarse0.3": ({"coarse_share": 0.3}, {}, None),
    "coarse0.4": ({"coarse_share": 0.4}, {}, None),
}


def run(video, model: str, params: int, budget: float, lever: str) -> dict:
    changes, options, after = LEVERS[lever]
    cls = model_class(model)
    torch.manual_seed(0)
    net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params, **options))
    (after or pytorch_init)(net)
    result = fit(net, video.frames, FitConfig(time_budget=budget, quiet=True, **changes))
    net.to("cpu")
    with torch.no_grad():
        net.prepare_storage(torch.from_numpy(video.frames))
    return {"psnr_rgb": round(psnr_of(net, video), 3), "epochs": result.epochs,
            "ms_per_epoch": round(1000 * result.seconds / result.epochs, 1),
            "parameters": net.num_stored_parameters()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--model", default="nerv")
    parser.add_argument("--params", type=float, default=100e3)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of fitting per run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--levers", default=",".join(LEVERS))
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    levers = args.levers.split(",")
    unknown = [x for x in levers if x not in LEVERS]
    if unknown:
        sys.exit(f"levers.py: unknown levers {unknown}; known: {', '.join(LEVERS)}")
    video = read_video(args.clip, size=parse_size(args.size))
    # The first fit in a process ran ~20 % fewer epochs than the same fit later (measured: base
    # 58-61 epochs first, 76 after others): warm up once, unmeasured, so no lever pays for it.
    run(video, args.model, int(args.params), 5.0, "base")
    runs: dict[str, list] = {x: [] for x in levers}
    for _ in range(args.repeats):
        for lever in levers:
            r = run(video, args.model, int(args.params), args.budget, lever)
            runs[lever].append(r)
            print(f"{lever}: {r}", flush=True)
    report = {"command": " ".join(["python", "bench/levers.py"] + sys.argv[1:]), "clip": args.clip,
              "size": args.size, "model": args.model, "params": int(args.params), "budget_s": args.budget,
              "repeats": args.repeats, "date": time.strftime("%Y-%m-%d"),
              "levers": {x: {"psnr_rgb": statistics.median(r["psnr_rgb"] for r in v),
                             "ms_per_epoch": statistics.median(r["ms_per_epoch"] for r in v),
                             "epochs": statistics.median(r["epochs"] for r in v), "runs": v}
                         for x, v in runs.items()}}
    output = Path(args.output or Path(__file__).parent / "results" /
                  f"levers-{args.clip}-{args.model}-{int(args.params) // 1000}k-{int(args.budget)}s.json")
    output.write_text(json.dumps(report, indent=2) + "\n")
    base = report["levers"].get("base")
    for x, v in report["levers"].items():
        gain = f"{v['psnr_rgb'] - base['psnr_rgb']:+.2f} dB" if base else ""
        print(f"{x:>12}: {v['psnr_rgb']:.2f} dB {gain}  {v['ms_per_epoch']:.0f} ms/epoch  {v['epochs']} epochs")


if __name__ == "__main__":
    main()
