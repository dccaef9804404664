"""The size rule adopted from this study, scored on its own runs: hinerv's curve as rate control
now sizes it (the ladder's network up to LARGE_FILE_BITS, 1.6x above), each point taken from the
arm that size was measured in, against NeRV's curve of the same run; and 1.6x against 1x.

    python bench/studies/2026-12-07-hinerv-size/rule.py

Carphone's 1.6x points come from carphone-1.6-120s.json and carphone-1.6b-120s.json, run right
after carphone-120s.json (its NeRV curve); bikes' and bunny's are in one run with NeRV's.
"""
from __future__ import annotations

import json
from pathlib import Path

from nvcodec.models.hinerv import LARGE_FILE_BITS, LARGE_FILE_SCALE
from nvcodec.rd.runner import bd_point

HERE = Path(__file__).parent
CLIPS = ("carphone", "bikes", "bunny")


def load(name: str) -> dict:
    return json.loads((HERE / name).read_text())


def points(run: dict, label: str) -> dict[float, dict]:
    runs = run["points"].get(label)
    return {p["target-bpp"]: p for p in runs[0]} if runs else {}


def curve(pts: list[dict]) -> dict:
    pts = sorted(pts, key=lambda p: p["bpp"])
    return {"results": {"bpp": [p["bpp"] for p in pts], "psnr-rgb": [p["psnr-rgb"] for p in pts]}}


def main() -> None:
    print("| clip | hinerv-1.6 vs hinerv | hinerv (rule) vs nerv | hinerv (1x) vs nerv | 1.6x at |")
    print("|---|---|---|---|---|")
    for clip in CLIPS:
        main_run = load(f"{clip}-120s.json")
        (width, height), frames = main_run["size"], main_run["frames"]
        pixels = width * height * frames
        nerv, plain = points(main_run, "nerv"), points(main_run, "hinerv")
        large = points(main_run, "hinerv-1.6")
        for extra in (f"{clip}-1.6-120s.json", f"{clip}-1.6b-120s.json"):
            if (HERE / extra).exists():
                large.update(points(load(extra), "hinerv-1.6"))
        big = sorted(r for r in plain if r * pixels > LARGE_FILE_BITS)
        rule = [large[r] if r in big else plain[r] for r in sorted(plain)]
        row = [bd_point(curve(list(plain.values())), curve(list(large.values())), "psnr-rgb"),
               bd_point(curve(list(nerv.values())), curve(rule), "psnr-rgb"),
               bd_point(curve(list(nerv.values())), curve(list(plain.values())), "psnr-rgb")]
        cells = [f"{b['pchip']:+.1f} % ({b['overlap_db'][0]:.2f}–{b['overlap_db'][1]:.2f} dB)" for b in row]
        print(f"| {clip} | " + " | ".join(cells) + f" | {', '.join(map(str, big))} bpp ({LARGE_FILE_SCALE}x) |")


if __name__ == "__main__":
    main()
