"""NeRV fitted data-parallel under torchrun against one process, at equal wall time on this CPU.

    python bench/studies/2026-11-27-data-parallel/data_parallel.py [--clip bunny --size 320x180] [--params 100k] [--budget 60]
                                  [--repeats 2] [-o bench/studies/2026-11-27-data-parallel/data-parallel.json]

Variants, each the real command line (`nvcodec encode ... --bits 8 --json`), interleaved inside
each repeat so that the machine's drift spreads over all of them:

    one-process    one process, torch's threads on every core, batch 2 (the default)
    dp2-batch1     torchrun --nproc-per-node 2, one thread each, a batch of 1 each: the same
                   steps as one process with a batch of 2, the work split over the processes
    dp2-batch2     torchrun --nproc-per-node 2, a batch of 2 each (4 frames a step)

Reports epochs fitted and PSNR-RGB before quantization (the float network) and after (the file).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"one-process": (1, 2), "dp2-batch1": (2, 1), "dp2-batch2": (2, 2)}


def run(variant: str, clip: str, size: str, params: str, budget: float, out: Path) -> dict:
    procs, batch = VARIANTS[variant]
    encode = ["encode", clip, "--size", size, "--params", params, "--time-budget", str(budget), "--bits", "8",
              "--batch-size", str(batch), "-o", str(out), "--json", "--quiet"]
    env = dict(os.environ)
    if procs == 1:
        command = [sys.executable, "-m", "nvcodec", *encode]
    else:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // procs))
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
                   "-m", "nvcodec", *encode]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"epochs": summary["epochs"], "psnr_rgb_before_quantization": summary["psnr_rgb_before_quantization"],
            "psnr_rgb": summary["psnr_rgb"], "bpp": summary["bpp"], "wall_s": round(time.perf_counter() - began, 1),
            **({"processes": summary["processes"]} if "processes" in summary else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--params", default="100k")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "data-parallel.json"))
    args = parser.parse_args()
    variants = args.variants.split(",")
    if not variants or any(v not in VARIANTS for v in variants):
        sys.exit(f"data_parallel.py: variants are {', '.join(VARIANTS)}")
    runs: dict[str, list] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for v in variants:
                runs[v].append(run(v, args.clip, args.size, args.params, args.budget, Path(tmp) / f"{v}.nvc"))
                print(v, runs[v][-1], flush=True)
    from nvcodec.rd.provenance import provenance

    summary = {v: {k: statistics.median(r[k] for r in rs) for k in ("epochs", "psnr_rgb_before_quantization",
                                                                     "psnr_rgb", "bpp")} | {"runs": rs}
               for v, rs in runs.items()}
    base = summary[variants[0]]
    for v, s in summary.items():
        print(f"{v:>12}: {s['epochs']:5.0f} epochs  {s['psnr_rgb_before_quantization']:.2f} dB float "
              f"({s['psnr_rgb_before_quantization'] - base['psnr_rgb_before_quantization']:+.2f})  "
              f"{s['psnr_rgb']:.2f} dB 8-bit")
    report = {"command": " ".join(["python", "bench/studies/2026-11-27-data-parallel/data_parallel.py"] + sys.argv[1:]), "clip": args.clip,
              "size": args.size, "params": args.params, "budget_s": args.budget, "repeats": args.repeats,
              "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "provenance": provenance(),
              "variants": summary}
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
