"""What a post-fit RD search of each tensor's step buys, on the same fits.

    python bench/studies/2026-11-26-step-search/step_search.py [--clips bunny carphone bikes] [--qualities 12,24,36] [--budget 60]

For each clip and quality one rate-aware NeRV fit (default size for the quality, ``--budget``
seconds); the fitted network is then compressed twice, with the learned steps and with the steps
the search keeps, and both files are scored on every frame (PSNR-RGB, bytes). Same fit, so the
difference is the search's alone. The search's seconds are reported beside it.

Result (bunny, carphone, bikes at quality 12, 24, 36 after 60 s fits): -0.5 % to +0.01 % bytes
and +0.00 to +0.01 dB, for 2-7 s of search: the learned steps are already where D + lambda R
wants them, so the encoder does not search (issue 11, item 4).
Output: bench/studies/2026-11-26-step-search/step-search.json (``--output``).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nvcodec.training.encoder import compress, default_params, psnr_of
from nvcodec.bitstream.entropy import encode_ints, scale_layout
from nvcodec.training.fit import FitConfig, distortion, fit, to_batch
from nvcodec.io import read_video, write_atomic
from nvcodec.models import INR, model_class
from nvcodec.rd.provenance import provenance
from nvcodec.training.rate import RateModel, quality_to_lambda
from nvcodec.rd.runner import DEFAULT_SIZES

# ---------------------------------------------------------------------------- the search
# After a rate-aware fit: each tensor's quantization step re-chosen by measured D + lambda * R.
#
# The fit learns the steps by gradient, through noise and a straight-through estimate; this is the
# exact check (Cool-chic does the same after training). For each tensor the fit quantized, largest
# first, all of its steps are scaled by a few factors around the learned ones; a candidate is kept
# where it lowers the fit's own loss, D + lambda * bits / pixels, with D the distortion of a sample of
# frames rendered from the hard-quantized network and the bits those the entropy coder spends on the
# tensor's integers (coded for real, not estimated). A final render of every frame confirms the
# choice, or the learned steps are kept. The search stops at its deadline.
#
# Measured not to pay (bench/studies/2026-11-26-step-search/step-search.json): the encoder does not run it.

#: step factors tried per tensor (about -15 % .. +20 %, log-spaced)
FACTORS = (2 ** -0.25, 2 ** -0.125, 2 ** 0.125, 2 ** 0.25)
SAMPLE_FRAMES = 16


@dataclass
class RefineResult:
    loss_before: float  # D + lambda * R on every frame, learned steps
    loss_after: float  # the same with the steps kept (== before where nothing was kept)
    changed: int  # tensors whose steps changed
    tried: int  # candidates measured
    seconds: float


def _coded_bits(rate: RateModel, model: INR, index: int) -> int:
    """Bits the entropy coder spends on tensor ``index``'s integers (steps and framing excluded)."""
    name = rate.names[index]
    return 8 * len(encode_ints(rate.export(model, only=[name])[name].values))


@torch.no_grad()
def _distortion(model: INR, rate: RateModel, frames: torch.Tensor, indices: list[int],
                colorspace: str, height: int, width: int) -> float:
    params, _ = rate.quantized_parameters(model, "hard")
    device = rate.log_step.device
    total = 0.0
    for i in indices:  # one frame at a time: no batch of float frames held at once
        index = torch.tensor([i], device=device)
        target = to_batch(frames, index.cpu(), False).to(device)
        out = torch.func.functional_call(model, params, (index, target if model.needs_frames else None), strict=False)
        total += float(distortion(colorspace, out[..., :height, :width].float(), target))
    return total / len(indices)


def refine_steps(model: INR, rate: RateModel, frames: np.ndarray | torch.Tensor, lam: float,
                 colorspace: str = "rgb", deadline: Optional[float] = None,
                 sample: int = SAMPLE_FRAMES) -> RefineResult:
    """Scale each quantized tensor's steps by the factor (or none) of lowest measured D + lambda R;
    ``rate.log_step`` is changed in place. ``deadline``: a time.perf_counter() value to stop at."""
    began = time.perf_counter()
    frames = torch.as_tensor(frames)
    n, height, width = frames.shape[:3]
    pixels = n * height * width
    sample_idx = np.unique(np.linspace(0, n - 1, min(sample, n)).round().astype(int)).tolist()
    model.eval()
    offsets = np.cumsum([0] + [scale_layout(s)[0] for s in rate.shapes])
    bits = [_coded_bits(rate, model, i) for i in range(len(rate.names))]

    def loss(indices: list[int]) -> float:
        return _distortion(model, rate, frames, indices, colorspace, height, width) + lam * sum(bits) / pixels

    before_steps = rate.log_step.detach().clone()
    full_before = loss(list(range(n)))
    current = loss(sample_idx)
    changed = tried = 0
    for i in sorted(range(len(rate.names)), key=lambda i: -rate.sizes[i]):
        if deadline is not None and time.perf_counter() > deadline:
            break
        groups = slice(int(offsets[i]), int(offsets[i + 1]))
        learned, best = rate.log_step.data[groups].clone(), None
        for f in FACTORS:
            rate.log_step.data[groups] = learned + math.log(f)
            old, bits[i] = bits[i], _coded_bits(rate, model, i)
            value = loss(sample_idx)
            tried += 1
            if value < current:
                current, best = value, (f, bits[i])
            bits[i] = old
        if best is None:
            rate.log_step.data[groups] = learned
        else:
            rate.log_step.data[groups] = learned + math.log(best[0])
            bits[i] = best[1]
            changed += 1
    full_after = loss(list(range(n))) if changed else full_before
    if full_after > full_before:  # the sample misled: keep what was learned
        rate.log_step.data.copy_(before_steps)
        full_after, changed = full_before, 0
    return RefineResult(full_before, full_after, changed, tried, time.perf_counter() - began)


# ---------------------------------------------------------------------------- the measurement


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "carphone", "bikes"])
    parser.add_argument("--qualities", default="12,24,36")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "step-search.json"))
    args = parser.parse_args()
    rows = []
    for clip in args.clips:
        video = read_video(clip, size=DEFAULT_SIZES.get(clip))
        info = video.info
        for quality in [int(q) for q in args.qualities.split(",")]:
            cls = model_class("nerv")
            torch.manual_seed(0)
            net = cls(cls.configure(info.width, info.height, info.frames, default_params(quality)))
            lam = quality_to_lambda(quality)
            result = fit(net, video.frames, FitConfig(time_budget=args.budget, rate_lambda=lam, quiet=True))
            row = {"clip": clip, "quality": quality, "parameters": net.num_stored_parameters(), "epochs": result.epochs}
            for variant in ("learned", "searched"):
                model, rate = copy.deepcopy(net), copy.deepcopy(result.rate)
                if variant == "searched":
                    r = refine_steps(model, rate, video.frames, lam)
                    row["search"] = {"seconds": round(r.seconds, 2), "tried": r.tried, "changed": r.changed,
                                     "loss_before": r.loss_before, "loss_after": r.loss_after}
                data = compress(model, info, 8, rate)
                row[variant] = {"bytes": len(data), "bpp": round(info.bpp(len(data)), 5),
                                "psnr_rgb": round(psnr_of(model, video), 3)}
            a, b = row["learned"], row["searched"]
            row["delta"] = {"bytes_pct": round(100 * (b["bytes"] / a["bytes"] - 1), 2),
                            "psnr_db": round(b["psnr_rgb"] - a["psnr_rgb"], 3)}
            rows.append(row)
            print(f"{clip} q{quality}: {a['bpp']} bpp {a['psnr_rgb']} dB -> {b['bpp']} bpp {b['psnr_rgb']} dB "
                  f"({row['delta']['bytes_pct']:+.2f} % bytes, {row['delta']['psnr_db']:+.3f} dB), "
                  f"search {row['search']['seconds']} s, {row['search']['changed']}/{len(rate.names)} tensors changed",
                  flush=True)
            report = {"model": "nerv", "budget_s": args.budget, "rows": rows, "provenance": provenance()}
            write_atomic(Path(args.output), (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
