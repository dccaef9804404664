"""The bench curves re-run with the size rule (commit 9a1a583), against those from before it
(bench-before-rule/, bf422fb) and against NeRV's committed bench curves:

    python bench/studies/2026-12-07-hinerv-size/rebench.py

NeRV's curves were run on another day than either hinerv curve, so the columns against NeRV carry
this machine's drift between days; the study's side-by-side runs are the comparison to trust.
"""
from __future__ import annotations

import json
from pathlib import Path

from nvcodec.rd.runner import bd_point

HERE = Path(__file__).parent
RESULTS = HERE.parents[2] / "bench" / "results"
CLIPS = ("carphone", "bikes", "bunny")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def pchip(ref: dict, test: dict) -> str:
    d = bd_point(ref, test, "psnr-rgb")
    return "no overlap" if d["overlap_db"] is None else f"{d['pchip']:+.1f} %"


def main() -> None:
    print("| clip | with the rule vs before it | with the rule vs NeRV | before it vs NeRV | PSNR-RGB with the rule "
          "(before it) at 0.025 / 0.05 / 0.1 / 0.2 / 0.4 bpp |")
    print("|---|---|---|---|---|")
    for clip in CLIPS:
        after = load(RESULTS / clip / "nvcodec-hinerv-rc-120s.json")
        before = load(HERE / "bench-before-rule" / f"{clip}-nvcodec-hinerv-rc-120s.json")
        nerv = load(RESULTS / clip / "nvcodec-nerv-rc-120s.json")
        by_target = [{t: q for t, q in zip(c["results"]["target-bpp"], c["results"]["psnr-rgb"])} for c in (after, before)]
        psnr = " / ".join(f"{by_target[0][t]:.2f} ({by_target[1][t]:.2f})" for t in sorted(by_target[0]))
        print(f"| {clip} | {pchip(before, after)} | {pchip(nerv, after)} | {pchip(nerv, before)} | {psnr} |")


if __name__ == "__main__":
    main()
