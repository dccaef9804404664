"""Issue 13's checks of NIRVANA on this machine, each as the command a user would run:

1. bikes at 320x136, 2 minutes: the file, decoded by the standalone decoder, against the committed
   nerv 120 s curve at the same bpp (linear in log bpp between its points);
2. random access: `nvcodec decode b.nvc --frames 200:210` against the full decode (the decoder's
   own seconds, median of --repeats runs each, interleaved) and the frames, bit for bit;
3. `torchrun --standalone --nproc-per-node 2 -m nvcodec encode carphone --model nirvana
   --time-budget 1m`: one valid file, and what each process fitted.

    python bench/studies/2026-11-26-nirvana-checks/nirvana_checks.py [--repeats 3] [-o bench/studies/2026-11-26-nirvana-checks/nirvana-checks.json]

Run it alone: a second process on two cores ruins the timings.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def nvcodec(*args: str, torchrun: int = 0) -> str:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(torchrun)]
                if torchrun else [sys.executable])
    run = subprocess.run([*launcher, "-m", "nvcodec", *args], capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"nvcodec {' '.join(args)} failed:\n{run.stderr[-2000:]}")
    return run.stdout


def curve_psnr_at(results: dict, bpp: float) -> float:
    """A result file's PSNR-RGB at ``bpp``, linear in log(bpp) between its points (NaN outside)."""
    pts = sorted(zip(results["bpp"], results["psnr-rgb"]))
    for (b0, p0), (b1, p1) in zip(pts, pts[1:]):
        if b0 <= bpp <= b1:
            t = (math.log(bpp) - math.log(b0)) / (math.log(b1) - math.log(b0))
            return p0 + t * (p1 - p0)
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "nirvana-checks.json"))
    args = ap.parse_args()
    from nvcodec.bitstream.decoder import decode, decode_frames
    from nvcodec.io import read_video
    from nvcodec.metrics import frame_psnr

    out: dict = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. quality at 2 minutes on bikes
        b = tmp / "b.nvc"
        cmd = ["encode", "bikes", "--size", "320x136", "--model", "nirvana", "--time-budget", "2m", "-o", str(b),
               "--json", "--quiet"]
        enc = json.loads(nvcodec(*cmd).strip().splitlines()[-1])
        reference = read_video("bikes", size=(320, 136))
        frames = decode_frames(b)
        psnr = float(np.mean(np.minimum(frame_psnr(frames, reference.frames), 100.0)))
        nerv = json.loads((ROOT / "bench/results/bikes/nvcodec-nerv-120s.json").read_text())["results"]
        at = curve_psnr_at(nerv, enc["bpp"])
        out["bikes_2m"] = {"command": "nvcodec " + " ".join(cmd), "bpp": enc["bpp"], "psnr_rgb_decoded": round(psnr, 3),
                           "encode_s": enc["encode_s"], "nerv_120s_at_same_bpp": round(at, 3),
                           "gain_db": round(psnr - at, 3), "needed_db": 1.0}
        print(json.dumps(out["bikes_2m"]), flush=True)
        # 2. random access
        full_s, part_s = [], []
        for _ in range(args.repeats):
            full_s.append(decode(b, tmp / "full.y4m").seconds)
            part_s.append(decode(b, tmp / "part.y4m", frames=(200, 210)).seconds)
        same = bool(np.array_equal(decode_frames(b, frames=(200, 210)), frames[200:210]))
        out["random_access"] = {"command": f"nvcodec decode b.nvc --frames 200:210 -o part.y4m (decode() seconds, "
                                           f"{args.repeats} runs each, interleaved)",
                                "full_s": [round(x, 3) for x in full_s], "part_s": [round(x, 3) for x in part_s],
                                "ratio_of_medians": round(float(np.median(part_s) / np.median(full_s)), 3),
                                "needed_ratio": 0.2, "bit_exact": same}
        print(json.dumps(out["random_access"]), flush=True)
        # 3. two processes
        c = tmp / "c.nvc"
        cmd = ["encode", "carphone", "--model", "nirvana", "--time-budget", "1m", "-o", str(c), "--json", "--quiet"]
        began = time.perf_counter()
        enc = json.loads(nvcodec(*cmd, torchrun=2).strip().splitlines()[-1])
        wall = time.perf_counter() - began
        reference = read_video("carphone")
        psnr = float(np.mean(np.minimum(frame_psnr(decode_frames(c), reference.frames), 100.0)))
        out["torchrun_2"] = {"command": "torchrun --standalone --nproc-per-node 2 -m nvcodec " + " ".join(cmd),
                             "bpp": enc["bpp"], "psnr_rgb_decoded": round(psnr, 3), "frames": reference.info.frames,
                             "processes": enc["processes"], "wall_s": round(wall, 1), "needed_db": 24.0}
        print(json.dumps(out["torchrun_2"]), flush=True)
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
