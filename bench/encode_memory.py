"""Peak memory (RSS) of a rate-aware encode of the full 1280x720 Bunny (132 frames).

    python bench/encode_memory.py [--epochs 2]

Runs ``nvcodec encode bunny`` (default quality, so rate-aware fitting, whose quantized phase
starts at 60 % of the budget: two epochs go through both phases) in a child process and reads
its peak RSS. Output: bench/results/encode-memory.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nvcodec.io import write_atomic
from nvcodec.provenance import provenance


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", default="bench/results/encode-memory.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "nvcodec", "encode", "bunny", "-o", f"{tmp}/b.nvc", "--epochs",
                   str(args.epochs), "--quiet", "--checkpoint-every", "0", "--json"]
        began = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result = json.loads(out)
    report = {"command": " ".join(command[2:]).replace(tmp, "TMP"), "peak_rss_bytes": peak,
              "peak_rss_gib": round(peak / 2**30, 3), "seconds": round(time.perf_counter() - began, 1),
              "encode": {k: result.get(k) for k in ("parameters", "bytes", "bpp", "psnr_rgb", "quality", "epochs")},
              "provenance": provenance()}
    print(f"encoding bunny 1280x720 (132 frames, {args.epochs} epochs, rate-aware): peak RSS "
          f"{report['peak_rss_gib']:.2f} GiB")
    write_atomic(Path(args.output), (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
