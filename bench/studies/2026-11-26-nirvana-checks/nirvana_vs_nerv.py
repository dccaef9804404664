"""NIRVANA's 120 s rate-control points against NeRV's 120 s curves at the same bpp (PSNR-RGB,
linear in log bpp between a curve's points; points outside a curve's range are left out).

    python bench/studies/2026-11-26-nirvana-checks/nirvana_vs_nerv.py   ->  bench/studies/2026-11-26-nirvana-checks/nirvana-vs-nerv.json
"""
from __future__ import annotations

import json
from pathlib import Path

from nirvana_checks import curve_psnr_at

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"  # the current NeRV and NIRVANA curves
CURVES = {"nerv 8-bit": "nvcodec-nerv-120s.json", "nerv rate control": "nvcodec-nerv-rc-120s.json"}


def main() -> None:
    out = {}
    for clip in ("carphone", "bunny", "bikes"):
        mine = json.loads((RESULTS / clip / "nvcodec-nirvana-rc-120s.json").read_text())["results"]
        rows = []
        for target, bpp, psnr in zip(mine["target-bpp"], mine["bpp"], mine["psnr-rgb"]):
            row = {"target_bpp": target, "bpp": round(bpp, 5), "psnr_rgb": round(psnr, 3)}
            for name, file in CURVES.items():
                ref = curve_psnr_at(json.loads((RESULTS / clip / file).read_text())["results"], bpp)
                row[f"{name} at that bpp"] = None if ref != ref else round(ref, 3)
                row[f"vs {name} (dB)"] = None if ref != ref else round(psnr - ref, 3)
            rows.append(row)
        out[clip] = rows
        print(clip, json.dumps(rows))
    (Path(__file__).resolve().parent / "nirvana-vs-nerv.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
