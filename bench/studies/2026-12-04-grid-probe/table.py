"""The probe's table, from its JSON files: python bench/studies/2026-12-04-grid-probe/table.py

One row per (run file, variant): float PSNR-RGB, its difference to NeRV in the same file (the
runs of one file were interleaved in one process), epochs, ms per epoch and its ratio to NeRV's,
the grid share of the parameters, and the rate-control file at the probe's target where it was
encoded (bpp and PSNR-RGB from the bytes, with the difference to NeRV's).
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["bunny-120s.json", "bunny-120s-mlp.json", "bikes-120s.json", "bikes-120s-cheap.json", "bunny-600s.json",
         "bunny-60-epochs.json", "bunny-120s-init.json", "bunny-120s-round2.json", "bikes-120s-round2.json"]


def rows() -> list[str]:
    out = ["| run | variant | params | grids | epochs | ms/epoch (× NeRV) | float PSNR-RGB (Δ NeRV) | "
           "rate control: bpp, PSNR-RGB (Δ NeRV) |", "|---|---|---|---|---|---|---|---|"]
    nerv_of = {}
    for name in ORDER:
        path = HERE / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        clip = data["clip"]
        nerv = data["float"].get("nerv") or nerv_of.get(clip)
        if "nerv" in data["float"]:
            nerv_of[clip] = data["float"]["nerv"]
        rc = data.get("rate_control", {})
        budget = f"{data['epochs']} epochs" if data.get("epochs") else f"{data['budget_s']:g} s"
        for variant, r in data["float"].items():
            if not r["runs"]:  # a variant the run did not reach
                continue
            run = r["runs"][0]
            speed = f"{r['ms_per_epoch']:.0f}" + (f" (×{r['ms_per_epoch'] / nerv['ms_per_epoch']:.2f})" if nerv else "")
            gain = f" ({r['psnr_rgb'] - nerv['psnr_rgb']:+.2f})" if nerv and variant != "nerv" else ""
            cell = ""
            if variant in rc and rc[variant]["bpp"] is not None:
                p = rc[variant]
                ok = "nerv" in rc and rc["nerv"]["bpp"] is not None and variant != "nerv"
                d = f" ({p['psnr_rgb'] - rc['nerv']['psnr_rgb']:+.2f})" if ok else ""
                cell = f"{p['bpp']:.4f}, {p['psnr_rgb']:.2f}{d}"
            out.append(f"| {clip} {budget} (`{name}`) | {variant} | {run['parameters']:,} | {run['grid_share']:.0%} | "
                       f"{r['epochs']:g} | {speed} | {r['psnr_rgb']:.2f}{gain} | {cell} |")
    return out


if __name__ == "__main__":
    print("\n".join(rows()))
