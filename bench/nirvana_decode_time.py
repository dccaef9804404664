"""NIRVANA's decode time against the length of its residual chain: a 16x16 file with one key group
(every other group a residual on the one before), 300 / 1200 / 2400 frames, decoded in this
process (parse, entropy decoding, rendering every frame), with the decoder's cache of chain sums
and without it (each group's layers summed from the key for every frame, as before the cache).

    python bench/nirvana_decode_time.py [--frames 300,1200,2400] [--reps 2] [--modes cached,uncached]
                                        [--json bench/results/nirvana-decode-time.json]

The files are built, not fitted: the model's own initialisation (the key group), residuals drawn
at random (seeded), quantized and written by the encoder's compress(); their bytes' SHA-256 are
in the JSON. Each mode decodes the same file; the frames of both must be the same bytes. Times
are the best of ``--reps``; the check: 2400 frames at most 2x the time per frame of 300.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np
import torch

from nvcodec.bitstream.decoder import _rendered, frame_indices, load_bitstream
from nvcodec.training.encoder import compress
from nvcodec.io import VideoInfo, write_atomic
from nvcodec.models import NIRVANA
from nvcodec.rd.provenance import provenance

SIZE = 16


def build(frames: int, seed: int = 0) -> bytes:
    """A 16x16 NIRVANA file of ``frames`` frames, groups of 3, one key group (group 0)."""
    torch.manual_seed(seed)
    model = NIRVANA(NIRVANA.configure(SIZE, SIZE, frames, group_size=3))
    assert model.config["keys"] == [0], model.config["keys"]
    with torch.no_grad():
        for g in range(1, model.num_groups):
            for name in model.names(g):
                getattr(model, name).normal_(0, 0.002)  # a residual: small moves from the group before
    return compress(model, VideoInfo(SIZE, SIZE, frames), bits=8)


def decode(data: bytes, cached: bool) -> tuple[float, float, np.ndarray]:
    """(seconds loading, seconds rendering, the frames) of one in-memory decode of every frame."""
    began = time.perf_counter()
    stream = load_bitstream(data)
    loaded = time.perf_counter()
    if not cached:
        stream.model.cache_chains = False  # every frame sums its group's chain from the key
    indices = frame_indices(stream.info, None, stream.path)
    frames = np.concatenate(list(_rendered(stream, indices, None)))
    return loaded - began, time.perf_counter() - loaded, frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", default="300,1200,2400")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--modes", default="cached,uncached")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: on a shared machine more spin)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    counts = [int(n) for n in a.frames.split(",")]
    modes = a.modes.split(",")
    runs = []
    for n in counts:
        data = build(n)
        run = {"frames": n, "file_bytes": len(data), "file_sha256": hashlib.sha256(data).hexdigest()}
        hashes = {}
        for mode in modes:
            times = []
            for _ in range(a.reps):
                load_s, render_s, frames = decode(data, mode == "cached")
                times.append((load_s + render_s, load_s, render_s))
                hashes[mode] = hashlib.sha256(frames.tobytes()).hexdigest()
            total, load_s, render_s = min(times)
            run[mode] = {"seconds": round(total, 3), "load_s": round(load_s, 3), "render_s": round(render_s, 3),
                         "ms_per_frame": round(1000 * total / n, 3), "all_seconds": [round(t[0], 3) for t in times],
                         "frames_sha256": hashes[mode]}
            print(f"{n} frames, {mode}: {total:.2f} s (load {load_s:.2f}, render {render_s:.2f}), "
                  f"{1000 * total / n:.2f} ms a frame", flush=True)
        if len(set(hashes.values())) > 1:
            raise SystemExit(f"{n} frames: the modes decoded different frames {hashes}")
        runs.append(run)
    report = {"size": [SIZE, SIZE], "group_size": 3, "keys": [0], "reps": a.reps, "runs": runs}
    first, last = runs[0], runs[-1]
    for mode in modes:
        ratio = last[mode]["ms_per_frame"] / first[mode]["ms_per_frame"]
        report[f"{mode}_per_frame_ratio_{last['frames']}_vs_{first['frames']}"] = round(ratio, 3)
        print(f"{mode}: {last['frames']} frames cost {ratio:.2f}x the time per frame of {first['frames']}")
    report["provenance"] = provenance()
    if a.json:
        write_atomic(a.json, (json.dumps(report, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
