"""Seconds per epoch in each phase of a real rate-control encode (float, soft, hard), for two
versions of nvcodec, interleaved: where a change to the fitting step shows in a whole encode.

    python bench/studies/2026-11-26-faster-steps/phase_speed.py --old 245d51d [--clip bikes] [--target-bpp 0.1] [--budget 60] [--pairs 2]
                                [-o bench/studies/2026-11-26-faster-steps/<clip>/phase-speed.json]

Each version runs in its own git worktree through PYTHONPATH, in a fresh process per encode,
old then new, ``--pairs`` times; an epoch's seconds come from the fit's history (the time
between consecutive epochs' records), and each phase's median is reported with its epoch count.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import DEFAULT_SIZES
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/, for its tools
from versions_ab import checked_out  # noqa: E402

CHILD = r"""
import json, statistics, sys, tempfile
from nvcodec.training.encoder import encode
from nvcodec.training.fit import FitConfig
clip, w, h, bpp, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
with tempfile.TemporaryDirectory() as t:
    r = encode(clip, f"{t}/x.nvc", size=(w, h), target_bpp=bpp, fit_config=FitConfig(time_budget=budget, quiet=True))
phases, prev = {}, 0.0
for e in r.fit.history:
    phases.setdefault(e["mode"], []).append(e["seconds"] - prev)
    prev = e["seconds"]
print(json.dumps({"epochs": r.fit.epochs, "psnr_rgb": round(r.psnr, 3), "bpp": r.bpp, "parameters": r.parameters,
                  "phases": {m: {"epochs": len(v), "median_ms": round(1000 * statistics.median(v))}
                             for m, v in phases.items()}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--clip", default="bikes")
    parser.add_argument("--target-bpp", type=float, default=0.1)
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[3]
    width, height = DEFAULT_SIZES[args.clip]
    runs: dict[str, list] = {"old": [], "new": []}
    with checked_out(repo, {"old": args.old, "new": args.new}) as versions:
        revs = {which: rev for which, (rev, _) in versions.items()}
        for _ in range(args.pairs):
            for which, (rev, tree) in versions.items():
                out = subprocess.run([sys.executable, "-c", CHILD, args.clip, str(width), str(height),
                                      str(args.target_bpp), str(args.budget)], capture_output=True, text=True,
                                     check=True, env={**os.environ, "PYTHONPATH": str(tree)})
                runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(which, rev, runs[which][-1], flush=True)
    report = {"clip": args.clip, "target_bpp": args.target_bpp, "budget_s": args.budget, "old": revs["old"],
              "new": revs["new"], "runs": runs,
              "provenance": provenance(" ".join(["python", "bench/studies/2026-11-26-faster-steps/phase_speed.py"] + sys.argv[1:]))}
    out = Path(args.output or Path(__file__).resolve().parent / args.clip / "phase-speed.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
