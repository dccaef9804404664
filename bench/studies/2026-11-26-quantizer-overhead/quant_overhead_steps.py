"""Rate-aware fitting's cost per step over float fitting, measured step by step, interleaved.

    python bench/studies/2026-11-26-quantizer-overhead/quant_overhead_steps.py [--clips bunny bikes] [--params 95000] [--cycles 30] [--steps 10]
                                         [-o FILE]

bench/studies/2026-11-26-quantizer-overhead/quant_overhead.py times whole epochs of each phase one after another; on this shared
machine the speed drifts by more than the overhead between them. Here one process and one
model run ``--steps`` steps of each phase in turn (float, soft, hard), ``--cycles`` times, so
drift reaches all three alike; each cycle gives a ms-per-step per phase and the medians are
compared. A step is fit.py's: a batch of 2 frames from uint8, bf16 autocast in channels_last
where the CPU has it, MSE (+ lambda x bits), backward, Adam (fused) over the weights and the
quantization steps.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from nvcodec.training.fit import FitConfig, loss_fn, to_batch, use_bf16
from nvcodec.io import read_video, write_atomic
from nvcodec.models import model_class
from nvcodec.rd.provenance import provenance
from nvcodec.training.rate import RateModel, trained_stored_names
from nvcodec.rd.runner import DEFAULT_SIZES
from nvcodec.resources import keep_freed_memory

PHASES = ("float", "soft", "hard")


def measure(clip: str, params: int, cycles: int, steps: int) -> dict:
    video = read_video(clip, size=DEFAULT_SIZES.get(clip))
    frames = torch.as_tensor(video.frames)
    n, height, width = frames.shape[:3]
    torch.manual_seed(0)
    cls = model_class("nerv")
    model = cls(cls.configure(width, height, n, params)).to(memory_format=torch.channels_last)
    rate = RateModel(model, trained_stored_names(model))
    optimizer = torch.optim.Adam([{"params": list(model.parameters())},
                                  {"params": list(rate.parameters()), "lr": 5e-2}], lr=5e-3, fused=True)
    bf16 = use_bf16(FitConfig(epochs=1))
    pixels = n * height * width

    def step(phase: str, k: int) -> None:
        idx = torch.randint(0, n, (2,))
        target = to_batch(frames, idx, True)
        params, bits = None, None
        if phase != "float":
            params, bits = rate.quantized_parameters(model, phase, 4.0, torch.Generator().manual_seed(k))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(idx) if params is None else torch.func.functional_call(model, params, (idx, None), strict=False)
        loss, _ = loss_fn("mse", out[..., :height, :width].float(), target)
        if bits is not None:
            loss = loss + 1e-2 * bits.float() / pixels
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    keep_freed_memory()
    torch.set_flush_denormal(True)
    for phase in PHASES:  # warm-up: oneDNN's kernels, the allocator
        for k in range(steps):
            step(phase, k)
    per_cycle: dict[str, list[float]] = {p: [] for p in PHASES}
    for c in range(cycles):
        for phase in PHASES:
            began = time.perf_counter()
            for k in range(steps):
                step(phase, c * steps + k)
            per_cycle[phase].append(round(1000 * (time.perf_counter() - began) / steps, 3))
    median = {p: statistics.median(v) for p, v in per_cycle.items()}
    ratios = {p: statistics.median(s / f for s, f in zip(per_cycle[p], per_cycle["float"])) for p in ("soft", "hard")}
    return {"clip": clip, "frames": n, "size": [width, height], "parameters": sum(rate.sizes),
            "ms_per_step": per_cycle, "median_ms": median,
            "overhead_pct": {p: round(100 * (r - 1), 1) for p, r in ratios.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=["bunny", "bikes"])
    parser.add_argument("--params", type=int, default=95000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "quant-overhead-steps.json"))
    args = parser.parse_args()
    rows = []
    for clip in args.clips:
        row = measure(clip, args.params, args.cycles, args.steps)
        rows.append(row)
        m, o = row["median_ms"], row["overhead_pct"]
        print(f"{clip}: ms/step float {m['float']:.2f}, soft {m['soft']:.2f} ({o['soft']:+.0f} %), "
              f"hard {m['hard']:.2f} ({o['hard']:+.0f} %) (median of per-cycle ratios)", flush=True)
    report = {"model": "nerv", "params": args.params, "cycles": args.cycles, "steps": args.steps, "rows": rows,
              "provenance": provenance(" ".join(["python", "bench/studies/2026-11-26-quantizer-overhead/quant_overhead_steps.py"] + sys.argv[1:]))}
    write_atomic(args.output, (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
