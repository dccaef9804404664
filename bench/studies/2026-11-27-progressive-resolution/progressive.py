"""Progressive resolution (issue 12's untried lever), at equal wall time against NeRV's fit.

    python bench/studies/2026-11-27-progressive-resolution/progressive.py [--clip bunny --size 320x180] [--params 100k] [--budget 60]
                                [--shares 0.3,0.5] [--own-head] [--fit] [--repeats 1]
                                [-o bench/studies/2026-11-27-progressive-resolution/progressive-<clip>.json]

A NeRV's last block doubles the resolution and is the costliest part of a step (full-resolution
convolution, GELU and shuffle; its parameters are few). Progressive fitting spends a share of
the budget at a lower resolution first: the network without its last block (stride s, 2 or 3),
the head applied to the block before it (same width), against frames averaged over s x s pixels; then the last block
starts as a near-identity (each output pixel copies its input channel; GELU after) and the
whole network is fitted for the rest of the budget by nvcodec's own ``fit`` (its warm-up and
cosine schedule begin again). The score: PSNR-RGB of the fitted network's frames (float).
Variants run one after another inside each repeat, after one unmeasured warm-up fit.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nvcodec.training.fit import FitConfig, fit, to_batch
from nvcodec.io import parse_size, read_video
from nvcodec.models import model_class
from nvcodec.models.blocks import positional_encoding
from nvcodec.resources import keep_freed_memory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/, for levers.py
from levers import run as lever_run  # noqa: E402


def half_forward(net, index: torch.Tensor, head=None) -> torch.Tensor:
    """NeRV without its last block: the head (or ``head``) on the block before it (half resolution)."""
    c = net.config
    t = index.float() / max(c["frames"] - 1, 1)
    x = net.mlp(positional_encoding(t, c["pe_levels"], c["pe_base"])).view(-1, c["channels"][0], *c["stem_size"])
    for block in net.blocks[:-1]:
        x = block(x)
    return torch.sigmoid((head or net.head)(x))


def near_identity(block) -> None:
    """The last upsampling block copies each input channel to its output pixels (plus a little noise)."""
    conv, s = block[0], block.stride
    with torch.no_grad():
        conv.weight.mul_(0.1)
        conv.bias.zero_()
        c_out = conv.weight.shape[0] // (s * s)
        for c in range(min(c_out, conv.weight.shape[1])):
            conv.weight[c * s * s:(c + 1) * s * s, c, conv.weight.shape[2] // 2, conv.weight.shape[3] // 2] += 1.0


def fit_half(net, frames: torch.Tensor, seconds: float, lr: float = 5e-3, batch: int = 2, head=None) -> int:
    """Fit the half-resolution network for ``seconds`` (Adam, 10 % warm-up, then a constant rate)."""
    keep_freed_memory()
    net.to(memory_format=torch.channels_last).train()
    n = frames.shape[0]
    params = list(net.parameters()) + ([] if head is None else list(head.parameters()))
    if head is not None:
        head.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(params, lr=lr, fused=True)
    stride = net.blocks[-1].stride  # the half (or third) resolution the network renders without its last block
    began, epochs = time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epochs))
        for step in range(-(-n // batch)):
            warm = (time.perf_counter() - began) / (0.1 * seconds)
            for g in optimizer.param_groups:
                g["lr"] = lr * min(1.0, max(warm, 1e-3))
            idx = order[step * batch:(step + 1) * batch]
            target = F.avg_pool2d(to_batch(frames, idx, True), stride)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = half_forward(net, idx, head)
            loss = F.mse_loss(out[..., :target.shape[2], :target.shape[3]].float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        epochs += 1
    net.to(memory_format=torch.contiguous_format)
    return epochs


def run_progressive(video, params: int, budget: float, share: float, own_head: bool = False) -> dict:
    """``own_head``: the low-resolution phase has a head of its own (dropped after it), and the
    last block and the head start at PyTorch's initialisation after it (any widths)."""
    from nvcodec.training.encoder import psnr_of

    cls = model_class("nerv")
    torch.manual_seed(0)
    net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
    if net.config["channels"][-2] != net.config["channels"][-1] and not own_head:
        raise SystemExit("progressive.py: the head takes the last two blocks' widths alike; not so here")
    head = torch.nn.Conv2d(net.config["channels"][-2], 3, 1) if own_head else None
    frames = torch.from_numpy(video.frames)
    began = time.perf_counter()
    half_epochs = fit_half(net, frames, share * budget, head=head)
    if not own_head:
        near_identity(net.blocks[-1])
    result = fit(net, video.frames, FitConfig(time_budget=budget - (time.perf_counter() - began), quiet=True))
    net.to("cpu")
    with torch.no_grad():
        net.prepare_storage(frames)
    return {"psnr_rgb": round(psnr_of(net, video), 3), "half_epochs": half_epochs, "epochs": result.epochs,
            "seconds": round(time.perf_counter() - began, 1), "parameters": net.num_stored_parameters()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--params", type=float, default=100e3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--shares", default="0.3,0.5")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--own-head", action="store_true", help="also each share with a head of its own")
    parser.add_argument("--fit", action="store_true",
                        help="also each share as FitConfig.coarse_share (levers.py's coarse<share> levers)")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    video = read_video(args.clip, size=parse_size(args.size))
    lever_run(video, "nerv", int(args.params), 5.0, "base")  # warm-up, unmeasured
    variants = ["base"] + [f"progressive{s}" for s in args.shares.split(",")]
    variants += [f"{v}-ownhead" for v in variants[1:] if args.own_head]
    variants += [f"coarse{s}" for s in args.shares.split(",") if args.fit]  # the same in fit (levers.py)
    runs: dict[str, list] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            if v == "base" or v.startswith("coarse"):
                r = lever_run(video, "nerv", int(args.params), args.budget, v)
            else:
                r = run_progressive(video, int(args.params), args.budget,
                                    float(v[len("progressive"):].removesuffix("-ownhead")), v.endswith("-ownhead"))
            runs[v].append(r)
            print(v, r, flush=True)
    summary = {v: {"psnr_rgb": statistics.median(r["psnr_rgb"] for r in rs), "runs": rs} for v, rs in runs.items()}
    for v, s in summary.items():
        print(f"{v:>16}: {s['psnr_rgb']:.2f} dB ({s['psnr_rgb'] - summary['base']['psnr_rgb']:+.2f})")
    report = {"command": " ".join(["python", "bench/studies/2026-11-27-progressive-resolution/progressive.py"] + sys.argv[1:]), "clip": args.clip,
              "size": args.size, "params": int(args.params), "budget_s": args.budget, "repeats": args.repeats,
              "date": time.strftime("%Y-%m-%d"), "variants": summary}
    out = Path(args.output or Path(__file__).resolve().parent / f"progressive-{args.clip}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
