"""Rate-control curves of several encoders on one clip, interleaved at equal wall time: the
comparison a model or shape change is decided by.

    python bench/curves.py --clip carphone --budget 120 --rates 0.1,0.2,0.4 --runs 2 \\
        --encoder hinerv hinerv --encoder hinerv-grow hinerv '{"grow": [0.5, 0.5]}' -o OUT.json

``--encoder LABEL MODEL [OPTIONS]`` (repeatable; the first is the reference of the BD-rates):
a model by name and, optionally, a JSON object of options for its ``configure`` (a variant of
its shape); the option ``params_scale`` is the tool's, not the model's: the network's size is
that many times the quality ladder's size for the target (encoder.rate_control_start: the size rate
control starts from before a model's own ``size_for_rate``; the size rule's question). For each run, each target rate and each encoder in turn (interleaved: the machine's
drift falls on all of them), one encode under rate control within ``--budget`` seconds, decoded
by the standalone decoder on this CPU and scored as ``nvcodec bench`` scores a point
(``nvcodec.rd.runner.nvcodec_rd_point``). The JSON holds every run's points, each encoder's
median curve in CompressAI's shape, and the BD-rate (PSNR-RGB, PCHIP and cubic) of each median
curve against the first; it is rewritten after every point. ``--table JSON...`` prints a
markdown table of such files (medians, and each run's PSNR difference from the first encoder).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from nvcodec.io import read_video
from nvcodec.metrics import frames_sha256
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import Clip, bd_point, nvcodec_rd_point
from nvcodec.training.encoder import rate_control_start

KEYS = ("bpp", "psnr-rgb", "psnr-yuv", "ms-ssim-rgb", "encode_s", "decode_s", "epochs", "parameters", "target-bpp",
        "estimated-value-bytes", "coded-value-bytes")


def median_curve(runs: list[list[dict[str, Any]]]) -> dict[str, list]:
    """Per target rate, the median over the runs of each numeric key (rates as far as every run got)."""
    done = min(len(r) for r in runs)
    out: dict[str, list] = {}
    for k in KEYS:
        values = [[r[i].get(k) for r in runs] for i in range(done)]
        out[k] = [None if any(v is None for v in vs) else statistics.median(vs) for vs in values]
    return out


def finite(x: float) -> float | None:
    """Rounded, or None where the curves do not overlap (NaN is not JSON)."""
    return round(x, 2) if math.isfinite(x) else None


def bd_rows(curves: dict[str, dict[str, list]]) -> dict[str, dict]:
    labels = list(curves)
    ref = curves[labels[0]]
    out = {}
    for label in labels[1:]:
        test = curves[label]
        if len(ref["bpp"]) < 2 or len(test["bpp"]) < 2:
            continue
        d = bd_point({"results": ref}, {"results": test}, "psnr-rgb")
        shared = d["overlap_db"]
        out[f"{label} vs {labels[0]}"] = {"pchip": finite(d["pchip"]), "cubic": finite(d["cubic"]),
                                          "psnr_overlap": None if shared is None else [round(x, 3) for x in shared]}
    return out


def parse_encoders(specs: list[list[str]], ap: argparse.ArgumentParser) -> dict[str, tuple[str, dict]]:
    """LABEL -> (model, options); options may hold ``params_scale`` (a positive number)."""
    encoders: dict[str, tuple[str, dict]] = {}
    for spec in specs:
        if len(spec) not in (2, 3):
            ap.error(f"--encoder {' '.join(spec)}: give LABEL MODEL [OPTIONS-JSON]")
        try:
            options = json.loads(spec[2]) if len(spec) == 3 else {}
        except json.JSONDecodeError as e:
            ap.error(f"--encoder {spec[0]}: options are not JSON ({e})")
        if not isinstance(options, dict):
            ap.error(f"--encoder {spec[0]}: options must be a JSON object")
        scale = options.get("params_scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 100:
            ap.error(f"--encoder {spec[0]}: params_scale must be a number above 0 and at most 100")
        if spec[0] in encoders:
            ap.error(f"--encoder {spec[0]}: label given twice")
        encoders[spec[0]] = (spec[1], options)
    return encoders


def table(paths: list[str]) -> str:
    """A markdown table of saved runs: per clip and target, each encoder's median bpp, PSNR-RGB
    and epochs, and its PSNR's difference from the first encoder's (each run's, then the median)."""
    lines = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        labels = list(report["curves"])
        if not lines:
            lines += ["| clip | target bpp | " + " | ".join(f"{label}: bpp, PSNR-RGB, epochs" for label in labels)
                      + "".join(f" | {label} Δ PSNR (each run)" for label in labels[1:]) + " |",
                      "|---|---|" + "---|" * (2 * len(labels) - 1)]
        curves = {label: report["curves"][label]["results"] for label in labels}
        for i, rate in enumerate(curves[labels[0]]["target-bpp"]):
            cells = [f"{c['bpp'][i]:.4f}, {c['psnr-rgb'][i]:.2f}, {c['epochs'][i]:g}" for c in curves.values()]
            for label in labels[1:]:
                runs = [b[i]["psnr-rgb"] - a[i]["psnr-rgb"]
                        for a, b in zip(report["points"][labels[0]], report["points"][label]) if len(b) > i]
                cells.append(f"{statistics.median(runs):+.2f} ({', '.join(f'{d:+.2f}' for d in runs)})")
            lines.append(f"| {report['clip']} (`{Path(path).name}`) | {rate:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bunny", help="a bundled clip or a path, NAME[@WxH] (bench's sizes by default)")
    ap.add_argument("--frames", help="A:B, a range of the clip's frames (default: all)")
    ap.add_argument("--rates", default="0.025,0.05,0.1,0.2", help="target bpps, comma-separated")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds of encoding per point")
    ap.add_argument("--runs", type=int, default=1, help="runs of every point (the curves are their medians)")
    ap.add_argument("--encoder", nargs="+", action="append", metavar="LABEL MODEL [OPTIONS]",
                    help="an encoder: a label, a model and optionally a JSON object of options (repeatable)")
    ap.add_argument("--question", default="", help="what the run answers, kept in the JSON")
    ap.add_argument("-o", "--output")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="instead: print a markdown table of saved runs")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not args.encoder or not args.output:
        ap.error("give --encoder (at least one) and -o, or --table")
    encoders = parse_encoders(args.encoder, ap)
    frames = None
    if args.frames:
        a, _, b = args.frames.partition(":")
        frames = (int(a or 0), int(b) if b else None)
    clip = Clip.parse(args.clip, frames)
    video = read_video(clip.source, frames=clip.frames, size=clip.size, keep_yuv=True)
    rates = [float(r) for r in args.rates.split(",")]
    pixels = video.info.frames * video.info.width * video.info.height
    runs: dict[str, list[list]] = {label: [] for label in encoders}
    out = Path(args.output)
    record = provenance(" ".join(["python", "bench/curves.py", *map(shlex.quote, sys.argv[1:])]))  # before the run

    def save() -> None:
        curves = {label: median_curve(rs) for label, rs in runs.items()}
        report = {"question": args.question, "clip": clip.label, "size": [video.info.width, video.info.height],
                  "frames": video.info.frames, "budget_s": args.budget, "rates": rates, "runs": args.runs,
                  "order": "interleaved: for each run, each rate, each encoder in turn",
                  "encoders": {label: {"model": m, "options": o} for label, (m, o) in encoders.items()},
                  "reference_sha256": frames_sha256(video.frames),
                  "curves": {label: {"name": f"nvcodec-{label}-rc-{args.budget:g}s",
                                     "description": f"{label}, rate control, {args.budget:g} s a point, median of runs",
                                     "results": c} for label, c in curves.items()},
                  "points": {label: rs for label, rs in runs.items()},
                  "bd_rate_psnr_rgb": bd_rows(curves), "meta": record}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for label in encoders:
                runs[label].append([])
            for rate in rates:
                for label, (model, options) in encoders.items():
                    options = dict(options)
                    scale = options.pop("params_scale", None)
                    params = None if scale is None else int(scale * rate_control_start(rate, pixels)[0])
                    p = nvcodec_rd_point(video, model, "rate-control", rate, args.budget, None,
                                         Path(tmp) / f"{label}-{rate}.nvc", model_options=options or None,
                                         params=params)
                    runs[label][-1].append(p)
                    print(f"run {run + 1}, {label} @ {rate}: {p['bpp']:.4f} bpp, {p['psnr-rgb']:.2f} dB, "
                          f"{p['epochs']} epochs", flush=True)
                    save()


if __name__ == "__main__":
    main()
