"""Issue 14's decision: does the latent-grid probe beat the best NeRV curve of the day?

    python bench/studies/2026-11-26-latent-probe/latent_decision.py [--results bench/results]

For each probe curve (``<clip>/latent-probe-<budget>s.json``, bench/studies/2026-11-26-latent-probe/latent_probe.py) and each of
its points, the PSNR-RGB the best NeRV curve of the clip reaches at the probe's bpp: the higher
of rate control (``nvcodec-nerv-rc-<budget>s.json``, the default path) and the --quality ladder
(``nvcodec-nerv-rd-<budget>s.json``, which reaches lower rates), each interpolated linearly in
log rate where it covers that bpp; below both curves' range, the lowest-reaching curve's first
segment extended (marked ``extrapolated``: a rough guide, not counted as a win or a loss); and
the difference. The issue's
rule: build the model if the probe wins at two or more of the four rates on either clip at 120 s
or 300 s. A 300 s probe curve is compared with the 120 s NeRV curves where no 300 s ones exist
(said in the row): NeRV at 300 s would only be stronger, so a loss there is a loss.
Output: bench/studies/2026-11-26-latent-probe/latent-decision.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from nvcodec.io import write_atomic
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import psnr_at_rate, read_results


def points(path: Path) -> list[dict]:
    r = read_results(path)["results"]
    return [dict(zip(r, row)) for row in zip(*r.values())]


def extrapolate(points_: list[dict], bpp: float) -> float:
    """PSNR-RGB of the curve's lowest segment extended linearly in log rate to ``bpp``."""
    (r0, q0), (r1, q1) = sorted((p["bpp"], p["psnr-rgb"]) for p in points_)[:2]
    return q0 + (q1 - q0) * (math.log(bpp) - math.log(r0)) / (math.log(r1) - math.log(r0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="bench/results", help="where the NeRV curves are")
    parser.add_argument("--probes", default=str(Path(__file__).resolve().parent), help="where the probe curves are (and the output goes)")
    args = parser.parse_args()
    rows, wins = [], {}
    for probe in sorted(Path(args.probes).glob("*/latent-probe-*s.json")):
        clip, budget = probe.parent.name, probe.stem.removeprefix("latent-probe-")
        nerv = Path(args.results) / clip
        nerv_budget = budget if (nerv / f"nvcodec-nerv-rc-{budget}.json").exists() else "120s"
        references = {f.name: points(f) for f in (nerv / f"nvcodec-nerv-{kind}-{nerv_budget}.json"
                                                   for kind in ("rc", "rd")) if f.exists()}
        for p in points(probe):
            covering = {name: psnr_at_rate(ref, p["bpp"]) for name, ref in references.items()}
            covering = {name: v for name, v in covering.items() if not math.isnan(v)}
            best = max(covering, key=covering.get) if covering else None
            extrapolated = best is None
            if extrapolated:
                best = min(references, key=lambda name: min(p["bpp"] for p in references[name]))
                at = extrapolate(references[best], p["bpp"])
            else:
                at = covering[best]
            row = {"clip": clip, "budget": budget, "lambda": p["lambda"], "bpp": round(p["bpp"], 5),
                   "probe_psnr_rgb": round(p["psnr-rgb"], 3), "nerv_curve": best,
                   "nerv_psnr_rgb_at_bpp": round(at, 3), "extrapolated": extrapolated,
                   "difference_db": round(p["psnr-rgb"] - at, 3),
                   "iterations": p.get("iterations"), "epochs": p.get("epochs")}
            rows.append(row)
            key = f"{clip} {budget}"
            wins[key] = wins.get(key, 0) + int(not extrapolated and row["difference_db"] > 0)
            print(f"{clip} {budget} lambda {p['lambda']:g}: {p['bpp']:.4f} bpp, probe {p['psnr-rgb']:.2f} dB, "
                  f"NeRV ({best}{', extrapolated' if extrapolated else ''}) {at:.2f} dB", flush=True)
    build = any(n >= 2 for n in wins.values())
    print(f"wins per curve: {wins}; build: {build}")
    report = {"rows": rows, "wins": wins, "build": build, "provenance": provenance()}
    write_atomic(Path(args.probes) / "latent-decision.json", (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
