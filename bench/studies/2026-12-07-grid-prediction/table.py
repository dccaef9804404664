"""The study's tables, from its JSON: python bench/studies/2026-12-07-grid-prediction/table.py

One row per (clip, target rate): each encoder's bpp, PSNR-RGB (from the file's bytes) and epochs;
then per clip the BD-rates against NeRV and of the predicted grid against the unpredicted one, and
hinerv's against x264 medium (the committed bench/results/<clip>/x264-medium.json); then the
high-rate follow-up of hinerv against hinerv-t2c8."""
from __future__ import annotations

import json
from pathlib import Path

from nvcodec.metrics import bd_rate, overlap

HERE = Path(__file__).parent
RESULTS = HERE.parent.parent / "results"
ORDER = ["bunny-120s.json", "carphone-120s.json", "bikes-120s.json"]
ENCODERS = ("nerv", "hinerv-unpredicted", "hinerv")


def bd(a: dict, b: dict) -> str:
    """BD-rate of curve b against curve a (PSNR-RGB, PCHIP), with the PSNR range they share."""
    if min(len(a["bpp"]), len(b["bpp"])) < 2:
        return "–"
    shared = overlap(a["psnr-rgb"], b["psnr-rgb"])
    if shared is None:
        return "no overlap"
    value = bd_rate(a["bpp"], a["psnr-rgb"], b["bpp"], b["psnr-rgb"], method="pchip")
    return f"{value:+.1f} % ({shared[0]:.2f}–{shared[1]:.2f} dB)"


def main() -> None:
    rows = ["| clip | target bpp | " + " | ".join(f"{e}: bpp, PSNR-RGB, epochs" for e in ENCODERS) + " |",
            "|---|---|" + "---|" * len(ENCODERS)]
    summary = ["", "| clip | hinerv-unpredicted vs nerv | hinerv vs nerv | hinerv vs hinerv-unpredicted "
                   "| vs x264 medium: nerv, hinerv |", "|---|---|---|---|---|"]
    for name in ORDER:
        path = HERE / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        curves = {e: data["curves"][e]["results"] for e in ENCODERS}
        for i, rate in enumerate(data["rates"][:min(len(c["bpp"]) for c in curves.values())]):
            cells = [f"{c['bpp'][i]:.4f}, {c['psnr-rgb'][i]:.2f}, {c['epochs'][i]}" for c in curves.values()]
            rows.append(f"| {data['clip']} | {rate:g} | " + " | ".join(cells) + " |")
        x264_path = RESULTS / data["clip"] / "x264-medium.json"
        x264 = json.loads(x264_path.read_text())["results"] if x264_path.exists() else None
        against = "–" if x264 is None else f"{bd(x264, curves['nerv'])}, {bd(x264, curves['hinerv'])}"
        summary.append(f"| {data['clip']} (`{name}`) | {bd(curves['nerv'], curves['hinerv-unpredicted'])} | "
                       f"{bd(curves['nerv'], curves['hinerv'])} | {bd(curves['hinerv-unpredicted'], curves['hinerv'])} "
                       f"| {against} |")
    print("\n".join(rows + summary))
    print("\n".join(follow_up()))


def follow_up() -> list[str]:
    """The high-rate follow-up (``--encoders hinerv,hinerv-t2c8``): each encoder's point per rate."""
    out = ["", "| clip | target bpp | hinerv: bpp, PSNR-RGB, epochs | hinerv-t2c8: bpp, PSNR-RGB, epochs | Δ PSNR |",
           "|---|---|---|---|---|"]
    for path in sorted(HERE.glob("*-t2c8-120s.json")):
        data = json.loads(path.read_text())
        a, b = (data["curves"][e]["results"] for e in ("hinerv", "hinerv-t2c8"))
        for i, rate in enumerate(data["rates"][:min(len(a["bpp"]), len(b["bpp"]))]):
            out.append(f"| {data['clip']} (`{path.name}`) | {rate:g} | {a['bpp'][i]:.4f}, {a['psnr-rgb'][i]:.2f}, "
                       f"{a['epochs'][i]} | {b['bpp'][i]:.4f}, {b['psnr-rgb'][i]:.2f}, {b['epochs'][i]} | "
                       f"{b['psnr-rgb'][i] - a['psnr-rgb'][i]:+.2f} |")
    return out


if __name__ == "__main__":
    main()
