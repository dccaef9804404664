"""Would coding a base-grid slice as its difference from the slice before pay (issue 27, item 3)?

    python bench/studies/2026-12-06-grid-curves/grid_entropy.py --clip bunny --rates 0.025,0.05,0.1 --budget 60 -o OUT.json

Encodes the clip with ``--model hinerv`` under rate control at each rate (files kept in a temporary
folder), then, for each base grid of the file, compares what its integers cost in the file with the
zeroth-order entropy of the same slices predicted from the slice before: slice k's dequantized values
minus slice k-1's dequantized values, requantized with slice k's own step (closed loop: what a
decoder holding slice k-1 would add back; the first slice as it is). An estimate only: the
file's own coder (a histogram or a Laplace per tensor) sits within a few per cent of the entropy.
It reads files whose grids are stored slices first (before format version 5, commit 89161bc); the
predicted grids that came of it are measured in bench/studies/2026-12-07-grid-prediction/.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from nvcodec.bitstream.container import read_container
from nvcodec.bitstream.entropy import iter_tensors, scale_layout
from nvcodec.io import read_video
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import Clip
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.training.parallel import Processes


def entropy_bits(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def grid_costs(path: Path) -> list[dict]:
    from nvcodec.bitstream.decoder import load_bitstream

    stream = load_bitstream(path)
    container = read_container(path.read_bytes(), str(path))
    names = list(stream.model.stored_tensors())
    shapes = {k: tuple(v.shape) for k, v in stream.model.stored_tensors().items()}
    out = []
    records = iter_tensors(container.sections[b"TENS"], [shapes[k] for k in names], str(path))
    for name, record in zip(names, records):
        if not name.startswith("grids."):
            continue
        q = record.tensor.values.astype(np.int64)
        n_scales, rows = scale_layout(q.shape)
        steps = np.repeat(record.tensor.scales.astype(np.float64), rows)[:q.shape[0]]
        v = q * steps.reshape(-1, *([1] * (q.ndim - 1)))
        residual = [q[0]]
        for k in range(1, len(q)):
            residual.append(np.rint((v[k] - v[k - 1]) / steps[k]).astype(np.int64))
        residual = np.stack(residual)
        out.append({"tensor": name, "shape": list(q.shape), "values": int(q.size), "coded_bytes": record.coded,
                    "method": record.method, "entropy_bytes": round(entropy_bits(q) / 8),
                    "predicted_entropy_bytes": round(entropy_bits(residual) / 8),
                    "file_bytes": path.stat().st_size})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bunny")
    ap.add_argument("--rates", default="0.025,0.05,0.1")
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    record = provenance(" ".join(["python", *sys.argv]))
    clip = Clip.parse(args.clip)
    video = read_video(clip.source, frames=clip.frames, size=clip.size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            path = Path(tmp) / f"{rate}.nvc"
            encode_video(video, path, model="hinerv", target_bpp=rate, processes=Processes(),
                         fit_config=FitConfig(time_budget=args.budget, quiet=True))
            for row in grid_costs(path):
                rows.append({"target_bpp": rate, **row})
                print(rows[-1], flush=True)
    Path(args.output).write_text(json.dumps({"question": "does predicting each grid slice from the one before "
                                             "save bits (issue 27, item 3)", "clip": clip.label,
                                             "budget_s": args.budget, "rows": rows, "meta": record}, indent=1) + "\n")


if __name__ == "__main__":
    main()
