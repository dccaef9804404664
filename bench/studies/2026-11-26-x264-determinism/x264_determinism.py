"""Why x264 was not bit-exact run to run at heights that are not a multiple of 16, and the fix.

    python bench/studies/2026-11-26-x264-determinism/x264_determinism.py [--clip bikes@320x136] [--frames 40] [--crf 28]

Each case encodes the same yuv420p planes in a fresh process whose glibc fills fresh heap memory
with a given byte (MALLOC_PERTURB_), so that memory nobody wrote holds other garbage each time:
- x264 as the bench ran it before the fix: the size changes with that byte, so x264 (not our
  frames: the frames handed to it are filled completely) reads memory it never wrote;
- the same with x264's assembly limited to AVX2 and below, and with no assembly at all: the size
  no longer changes, so the reads are in x264's AVX-512 code (only on CPUs that have it);
- as the bench runs it now (nvcodec.rd.baseline fills fresh memory with one fixed byte during the
  encode): the same bytes whatever the allocator held.
Output: bench/studies/2026-11-26-x264-determinism/x264-determinism.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from nvcodec.io import write_atomic
from nvcodec.rd.provenance import provenance

_CHILD = r"""
import contextlib, hashlib, json, sys
import nvcodec.rd.baseline as b
from nvcodec.rd import runner as rd
from nvcodec.io import read_video
clip, frames, crf, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = rd.Clip.parse(clip)
video = read_video(c.source, size=c.size, frames=(0, frames), keep_yuv=True)
options = b.encoder_options("libx264", crf, "medium")
if mode != "fixed":
    b._fixed_fresh_memory = contextlib.nullcontext  # as before the fix
if mode == "asm-avx2":
    options["x264-params"] = "asm=MMX2,SSE,SSE2,SSE3,SSSE3,SSE4.1,SSE4.2,AVX,AVX2,FMA3,BMI1,BMI2,LZCNT,POPCNT"
elif mode == "no-asm":
    options["x264-params"] = "asm=0"
data = b.drop_informational_sei(b.encode_raw(video, "libx264", options)[0], "libx264")[0]
print(json.dumps({"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
"""


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bikes@320x136")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--crf", type=int, default=28)
    args = parser.parse_args()
    flags = cpu_flags()
    modes = ["before-fix", "no-asm", "fixed"]
    if {"avx2", "avx512f"} <= flags:  # limiting to AVX2 names only instructions this CPU has
        modes.insert(1, "asm-avx2")
    cases = []
    for mode in modes:
        runs = []
        for perturb in ("1", "85", "170"):
            env = {**os.environ, "MALLOC_PERTURB_": perturb}
            out = subprocess.run([sys.executable, "-c", _CHILD, args.clip, str(args.frames), str(args.crf), mode],
                                 capture_output=True, text=True, env=env, timeout=600, check=True)
            runs.append({"malloc_perturb": int(perturb), **json.loads(out.stdout)})
        same = len({r["sha256"] for r in runs}) == 1
        cases.append({"mode": mode, "runs": runs, "identical": same})
        print(f"{mode:>10}: " + ", ".join(f"{r['bytes']} B" for r in runs) + ("  identical" if same else "  DIFFER"))
    report = {"clip": args.clip, "frames": args.frames, "crf": args.crf, "avx512f": "avx512f" in flags,
              "cases": cases, "provenance": provenance()}
    path = Path(__file__).resolve().parent / "x264-determinism.json"
    write_atomic(path, (json.dumps(report, indent=1) + "\n").encode())
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
