"""Check the counted bytes of the baseline curves by an independent route, and write the result.

    python bench/check_baseline_bytes.py [--clip carphone] [--curves x264-medium x265-medium]

nvcodec bench counts a baseline's stream without the encoders' informational SEI, which it drops
with its own Annex B parser. Here the same planes are encoded again and the SEI is left out by
other means: for x265 the encoder is told not to write it (``info=0``), for x264 FFmpeg's own
``filter_units=remove_types=6`` bitstream filter takes every SEI NAL unit out. Each point's bytes
must match the results JSON within 2 %. Output: bench/results/<clip>/baseline-bytes-check.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nvcodec.rd import baseline
from nvcodec.rd import runner as rd
from nvcodec.io import read_video, write_atomic
from nvcodec.rd.provenance import provenance


def independent_bytes(video, curve: rd.Baseline, crf: int) -> int:
    options = baseline.encoder_options(curve.library, crf, curve.preset, curve.tune)
    if curve.library == "libx265":
        options["x265-params"] += ":info=0"
        return len(baseline.encode_raw(video, curve.library, options)[0])
    return len(baseline.drop_sei_with_ffmpeg(baseline.encode_raw(video, curve.library, options)[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="carphone")
    parser.add_argument("--curves", nargs="+", default=["x264-medium", "x265-medium"])
    parser.add_argument("--results", default="bench/results")
    args = parser.parse_args()
    clip = rd.Clip.parse(args.clip)
    video = read_video(clip.source, size=clip.size, keep_yuv=True)
    rows, worst = [], 0.0
    for name in args.curves:
        stored = rd.read_results(Path(args.results) / clip.label / f"{name}.json")["results"]
        for crf, counted, dropped in zip(stored["crf"], stored["bytes"], stored["sei-bytes-dropped"]):
            other = independent_bytes(video, rd.BASELINES[name], crf)
            diff = (other - counted) / counted
            worst = max(worst, abs(diff))
            rows.append({"curve": name, "crf": crf, "bench_bytes": counted, "sei_bytes_dropped": dropped,
                         "independent_bytes": other, "difference": diff})
            print(f"{name} crf {crf}: bench {counted} B (SEI {dropped} B dropped), independent {other} B, "
                  f"{100 * diff:+.2f} %")
    report = {"clip": clip.label, "rows": rows, "worst_abs_difference": worst, "limit": 0.02,
              "passed": worst <= 0.02, "provenance": provenance()}
    path = Path(args.results) / clip.label / "baseline-bytes-check.json"
    write_atomic(path, (json.dumps(report, indent=1) + "\n").encode())
    print(f"worst difference {100 * worst:.2f} % -> {path}")
    return 0 if worst <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
