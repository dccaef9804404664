"""What rendering one frame per forward call costs against batches of 8 (the decoder renders one
frame a call so that a frame's bytes never depend on its batch). Interleaved runs, medians.

    python bench/studies/2026-11-26-render-batch/render_batch.py nerv 320 180 132 100000 [--reps 5] [--threads 1]

Each run is added to bench/studies/2026-11-26-render-batch/render-batch.json (with provenance).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from nvcodec.io import write_atomic
from nvcodec.models import model_class
from nvcodec.rd.provenance import provenance


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("width", type=int)
    p.add_argument("height", type=int)
    p.add_argument("frames", type=int)
    p.add_argument("params", type=int)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cls = model_class(a.model)
    model = cls(cls.configure(a.width, a.height, a.frames, a.params), decoder_only=True).eval()

    @torch.no_grad()
    def fps(batch: int) -> float:
        began = time.perf_counter()
        for i in range(0, a.frames, batch):
            model(torch.arange(i, min(i + batch, a.frames)))
        return a.frames / (time.perf_counter() - began)

    fps(8), fps(1)  # warm-up
    runs: dict[int, list[float]] = {8: [], 1: []}
    for _ in range(a.reps):
        for batch in runs:
            runs[batch].append(fps(batch))
    b8, b1 = statistics.median(runs[8]), statistics.median(runs[1])
    print(f"{a.model} {a.width}x{a.height}, {model.num_stored_parameters()} parameters, {torch.get_num_threads()} "
          f"threads: batches of 8 {b8:.1f} frames/s, one frame a call {b1:.1f} frames/s ({100 * (b1 / b8 - 1):+.0f}%)")
    path = Path(__file__).resolve().parent / "render-batch.json"
    runs_so_far = json.loads(path.read_text())["runs"] if path.exists() else []
    runs_so_far.append({"model": a.model, "size": [a.width, a.height], "frames": a.frames,
                        "parameters": model.num_stored_parameters(), "threads": torch.get_num_threads(),
                        "reps": a.reps, "fps_batch8": runs[8], "fps_one": runs[1], "median_batch8": b8,
                        "median_one": b1, "provenance": provenance()})
    write_atomic(path, (json.dumps({"runs": runs_so_far}, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
