"""Rate-aware rate control (the default) against fitting in float and quantizing to 8 bits after
(the earlier path), the same code, interleaved point by point: issue 11's gain at equal wall
time, free of this machine's drift between curves run hours apart.

    python bench/studies/2026-11-26-paths-ab/paths_ab.py [--clip bunny] [--rates 0.025,0.05,0.1,0.2] [--budget 120]
                             [-o bench/studies/2026-11-26-paths-ab/<clip>/paths-ab.json]

For every rate, in fresh processes, one after the other: ``nvcodec encode CLIP --target-bpp R``
and ``nvcodec encode CLIP --bits 8 --params N`` with N the parameter count ``nvcodec bench``
gives the 8-bit path for rate R (rd.params_for_rate), each ``--time-budget`` seconds. PSNR-RGB is
the encoder's score of the frames the quantized file renders. The JSON keeps every point and the
BD-rate (PSNR-RGB, PCHIP) of rate control against 8 bits.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nvcodec.io import read_video
from nvcodec.metrics import bd_rate, overlap
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import DEFAULT_SIZES, params_for_rate
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/, for its tools
from versions_ab import encode  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--rates", default="0.025,0.05,0.1,0.2")
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    width, height = DEFAULT_SIZES[args.clip]
    size = f"{width}x{height}"
    info = read_video(args.clip, size=(width, height)).info
    points: dict[str, list] = {"rate-control": [], "8-bit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            params = params_for_rate(info, rate)
            for path, knobs in (("rate-control", ["--target-bpp", str(rate)]),
                                ("8-bit", ["--bits", "8", "--params", str(params)])):
                p = encode(args.clip, size, args.budget, Path(tmp) / "x.nvc", *knobs)
                points[path].append({"target_bpp": rate, **p})
                print(path, p, flush=True)
    rc, ptq = points["rate-control"], points["8-bit"]
    curve = lambda ps, k: [p[k] for p in ps]  # noqa: E731
    bd = bd_rate(curve(ptq, "bpp"), curve(ptq, "psnr_rgb"), curve(rc, "bpp"), curve(rc, "psnr_rgb"), "pchip")
    shared = overlap(curve(ptq, "psnr_rgb"), curve(rc, "psnr_rgb"))
    print(f"{args.clip}: rate control vs 8 bits: BD-rate PSNR-RGB {bd:+.1f} % over {shared}")
    report = {"clip": args.clip, "size": size, "budget_s": args.budget, "points": points,
              "bd_rate_pchip_rate_control_vs_8bit": bd, "overlap_db": list(shared) if shared else None,
              "provenance": provenance(" ".join(["python", "bench/studies/2026-11-26-paths-ab/paths_ab.py"] + sys.argv[1:]))}
    out = Path(args.output or Path(__file__).resolve().parent / args.clip / "paths-ab.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
