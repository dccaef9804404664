"""NIRVANA's design choices measured at equal wall time on one clip: the default against one
change each (group size, a group network's size, key groups at scene cuts warm-started from the
previous shot's network as NIRVANA does elsewhere), all at --quality 24.

    python bench/studies/2026-11-26-nirvana-design/nirvana_design.py [--clip bikes --size 320x136 --budget 120]
                                   [--variants default,warm-keys,12k,group2,group6] [-o FILE]

Writes bench/studies/2026-11-26-nirvana-design/<clip>/nirvana-design.json: per variant bpp, PSNR-RGB of the decoded file,
steps, and each group's training PSNR at its end. One run a variant, in this order; run it alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

VARIANTS = {
    "default (group 3, 24k, fresh keys at cuts)": {},
    "key groups at cuts warm-started": {"warm_cut_keys": True},
    "group network 12k": {"params": 12_000},
    "group size 2": {"options": {"group_size": 2}},
    "group size 6": {"options": {"group_size": 6}},
}
SHORT = dict(zip(["default", "warm-keys", "12k", "group2", "group6"], VARIANTS))  # --variants' names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="bikes")
    ap.add_argument("--size", default="320x136")
    ap.add_argument("--budget", type=float, default=120.0)
    ap.add_argument("--variants", default=",".join(SHORT))
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args()
    chosen = args.variants.split(",")
    if any(v not in SHORT for v in chosen):
        ap.error(f"--variants: choose from {', '.join(SHORT)}")
    from nvcodec.training.encoder import encode_video
    from nvcodec.training.fit import FitConfig
    from nvcodec.io import parse_size, read_video
    from nvcodec.models import nirvana

    video = read_video(args.clip, size=parse_size(args.size))
    fresh_start = nirvana.NIRVANA.begin_stage
    results = {}
    for name in (SHORT[c] for c in chosen):
        v = VARIANTS[name]

        def begin_stage(self, index, first, warm=v.get("warm_cut_keys", False)):
            if warm and index in self.config["keys"] and index > 0 and not first:  # as NIRVANA: always warm
                cuts = self.config.pop("cuts", None)
                try:
                    return fresh_start(self, index, first)
                finally:
                    if cuts is not None:
                        self.config["cuts"] = cuts
            return fresh_start(self, index, first)
        nirvana.NIRVANA.begin_stage = begin_stage
        began = time.perf_counter()
        r = encode_video(video, ROOT / "bench" / ".nirvana-design.nvc", model="nirvana", params=v.get("params"),
                         quality=24, fit_config=FitConfig(time_budget=args.budget, quiet=True),
                         model_options=v.get("options"))
        last = {}
        for record in r.fit.history:
            last[record["stage"]] = record["psnr"]
        results[name] = {"bpp": round(r.bpp, 5), "psnr_rgb": round(r.psnr, 3), "bytes": r.bytes,
                         "steps": sum(s["steps"] for s in r.fit.stages), "groups": len(r.fit.stages),
                         "wall_s": round(time.perf_counter() - began, 1),
                         "group_psnr": [round(last[k], 2) for k in sorted(last)]}
        print(name, json.dumps({k: x for k, x in results[name].items() if k != "group_psnr"}), flush=True)
    nirvana.NIRVANA.begin_stage = fresh_start
    (ROOT / "bench" / ".nirvana-design.nvc").unlink(missing_ok=True)
    out = Path(args.output or Path(__file__).resolve().parent / args.clip / "nirvana-design.json")
    out.write_text(json.dumps({"clip": args.clip, "size": args.size, "budget_s": args.budget, "quality": 24,
                               "command": " ".join(["python", "bench/studies/2026-11-26-nirvana-design/nirvana_design.py", *sys.argv[1:]]),
                               "variants": results}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
