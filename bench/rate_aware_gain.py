"""What rate-aware fitting buys over quantizing after fitting, from the committed bench curves.

    python bench/rate_aware_gain.py [--budget 120] [--model nerv]

BD-rate (PSNR-RGB and PSNR-YUV, PCHIP) of each rate-aware curve, ``nvcodec-<model>-rc-<budget>s.json``
(rate control over target rates), ``nvcodec-<model>-rd-<budget>s.json`` (--quality ladder) and
``nvcodec-<model>-rd-<budget>s-slowquant.json`` (its earlier run) and
``nvcodec-<model>-rc-<budget>s-unfused.json`` (rate control before the one-node quantizer) and
``nvcodec-<model>-rc-<budget>s-slowsteps.json`` (rate control before the faster steps of
bench/step_speed.py), against
``nvcodec-<model>-<budget>s.json`` (8 bits after fitting, target-rate ladder), per clip, over the
quality range both cover; and the rate-control points of ``paths-ab.json`` (bench/paths_ab.py,
run beside an 8-bit curve of their own) against that same committed 8-bit curve (PSNR-RGB).
Output: bench/results/rate-aware-gain.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nvcodec.io import write_atomic
from nvcodec.metrics import bd_rate, overlap
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import read_results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("--model", default="nerv")
    parser.add_argument("--results", default="bench/results")
    args = parser.parse_args()
    rows = []
    for clip_dir in sorted(p for p in Path(args.results).iterdir() if p.is_dir()):
        old = clip_dir / f"nvcodec-{args.model}-{args.budget:g}s.json"
        for tag in ("rc", "rc-slowsteps", "rc-unfused", "rd", "rd-slowquant"):
            parts = tag.split("-", 1)
            new = clip_dir / f"nvcodec-{args.model}-{parts[0]}-{args.budget:g}s{'-' + parts[1] if len(parts) > 1 else ''}.json"
            if not (new.exists() and old.exists()):
                continue
            a, b = read_results(old)["results"], read_results(new)["results"]
            row = {"clip": clip_dir.name, "curve": new.name, "against": old.name}
            for metric in ("psnr-rgb", "psnr-yuv"):
                shared = overlap(a[metric], b[metric])
                row[metric] = {"bd_rate_pchip": bd_rate(a["bpp"], a[metric], b["bpp"], b[metric], "pchip"),
                               "overlap_db": list(shared) if shared else None}
            rows.append(row)
            r = row["psnr-rgb"]
            print(f"{clip_dir.name}: {new.name} vs 8-bit after fitting, PSNR-RGB BD-rate {r['bd_rate_pchip']:+.1f} % "
                  f"over {r['overlap_db'][0]:.1f}-{r['overlap_db'][1]:.1f} dB")
        ab = clip_dir / "paths-ab.json"
        if ab.exists() and old.exists():
            a, points = read_results(old)["results"], json.loads(ab.read_text())["points"]["rate-control"]
            bpp, psnr = [p["bpp"] for p in points], [p["psnr_rgb"] for p in points]
            shared = overlap(a["psnr-rgb"], psnr)
            rows.append({"clip": clip_dir.name, "curve": f"{ab.name} (rate-control points)", "against": old.name,
                         "psnr-rgb": {"bd_rate_pchip": bd_rate(a["bpp"], a["psnr-rgb"], bpp, psnr, "pchip"),
                                      "overlap_db": list(shared) if shared else None}})
            print(f"{clip_dir.name}: {ab.name}'s rate control vs the committed 8-bit curve, PSNR-RGB BD-rate "
                  f"{rows[-1]['psnr-rgb']['bd_rate_pchip']:+.1f} %")
    report = {"model": args.model, "budget_s": args.budget, "rows": rows, "provenance": provenance()}
    write_atomic(Path(args.results) / "rate-aware-gain.json", (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
