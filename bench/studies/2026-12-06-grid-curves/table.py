"""The study's tables, from its JSON: python bench/studies/2026-12-06-grid-curves/table.py

One row per (run file, target rate): each model's bpp, PSNR-RGB (from the file's bytes) and epochs,
and the difference of the second model's PSNR to the first's; then each file's BD-rate."""
from __future__ import annotations

import json
from pathlib import Path

from nvcodec.metrics import bd_rate, overlap

HERE = Path(__file__).parent
RESULTS = HERE.parent.parent / "results"
ORDER = ["bunny-120s.json", "bikes-120s.json", "carphone-120s.json", "bunny-600s.json"]


def rows() -> list[str]:
    out = ["| run | target bpp | nerv: bpp, PSNR-RGB, epochs | hinerv: bpp, PSNR-RGB, epochs | Δ PSNR |",
           "|---|---|---|---|---|"]
    bd = ["", "| run | BD-rate hinerv vs nerv, PSNR-RGB, PCHIP (cubic) | PSNR range shared | "
               "vs x264 medium (`bench/results/<clip>/x264-medium.json`): nerv, hinerv |", "|---|---|---|---|"]
    for name in ORDER:
        path = HERE / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        a, b = (data["curves"][m]["results"] for m in ("nerv", "hinerv"))
        label = f"{data['clip']} {data['budget_s']:g} s (`{name}`)"
        for i, rate in enumerate(data["rates"][:min(len(a["bpp"]), len(b["bpp"]))]):
            out.append(f"| {label} | {rate:g} | {a['bpp'][i]:.4f}, {a['psnr-rgb'][i]:.2f}, {a['epochs'][i]} | "
                       f"{b['bpp'][i]:.4f}, {b['psnr-rgb'][i]:.2f}, {b['epochs'][i]} | "
                       f"{b['psnr-rgb'][i] - a['psnr-rgb'][i]:+.2f} |")
        x264 = json.loads((RESULTS / data["clip"] / "x264-medium.json").read_text())["results"]
        against = []
        for c in (a, b):
            d = bd_rate(x264["bpp"], x264["psnr-rgb"], c["bpp"], c["psnr-rgb"])
            span = overlap(x264["psnr-rgb"], c["psnr-rgb"])
            against.append(f"{d:+.0f} % ({span[0]:.1f}–{span[1]:.1f} dB)" if span else "no overlap")
        for key, r in data["bd_rate_psnr_rgb"].items():
            shared = r["psnr_overlap"]
            bd.append(f"| {label} | {r['pchip']:+.1f} % ({r['cubic']:+.1f} %) | "
                      f"{'none' if shared is None else f'{shared[0]:.2f}–{shared[1]:.2f} dB'} | {', '.join(against)} |")
    return out + bd


if __name__ == "__main__":
    print("\n".join(rows()))
