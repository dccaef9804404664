"""Writes tests/data/golden.nvc (positional features as format 4 wrote them) and, with
``--exact``, tests/data/golden-exact.nvc (reduced exactly, ``exact_pe``): a small NeRV file (set weights, not fitted) whose tensors use
every coding method (const, raw, categorical, laplace), and prints the hashes tests/test_golden.py pins. Rerun it only when
the format changes on purpose (and bump the format version then).

    python tests/data/make_golden.py [--exact | --hinerv | --hinerv-predicted]
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

from nvcodec.bitstream.container import read_container, write_container
from nvcodec.bitstream.entropy import pack_tensors, unpack_tensors
from nvcodec.bitstream.quant import quantize_tensors
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.io import VideoInfo
from nvcodec.models import model_class

HERE = Path(__file__).parent


def tensor_hash(data: bytes) -> str:
    """sha256 over every tensor's bits, steps and integers, as the decoder reads them."""
    c = read_container(data)
    cls = model_class(c.header["model"])
    with torch.device("meta"):
        shapes = [tuple(t.shape) for t in cls(c.header["config"], decoder_only=True).stored_tensors().values()]
    digest = hashlib.sha256()
    for q in unpack_tensors(c.sections[b"TENS"], shapes, "golden", predictors=c.predictors)[0]:
        digest.update(bytes([q.bits]) + q.scales.astype("<f2").tobytes() + np.ascontiguousarray(q.values, "<i4").tobytes())
    return digest.hexdigest()


def main(kind: str) -> None:
    """``kind``: "legacy" (golden.nvc), "exact" (golden-exact.nvc), "hinerv" (golden-hinerv.nvc: the
    feature-grid model with every part it has, an MLP stem, a base grid, local grids and a block, its
    grid stored slices first as before format version 5) or "hinerv-predicted"
    (golden-hinerv-predicted.nvc: the same stored channels first, the grid coded predicted)."""
    info = VideoInfo(20, 12, 4)
    cls = model_class("hinerv" if kind.startswith("hinerv") else "nerv")
    if kind.startswith("hinerv"):
        config = cls.configure(40, 24, 9, 9000, shape="mlp-grid", depths=[1])
        if kind == "hinerv":
            del config["grid_layout"]
        info = VideoInfo(40, 24, 9)
    else:
        config = cls.configure(info.width, info.height, info.frames, 2500, pe_levels=80 if kind == "exact" else 16)
    if kind == "legacy":
        del config["exact_pe"]
    model = cls(config)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for i, (name, t) in enumerate(model.stored_tensors().items()):
            method = i % 4
            if i == 2:       # the largest: a few spikes, no parametric shape: categorical
                values = rng.choice([-0.3, -0.1, 0.0, 0.0, 0.0, 0.2, 0.3], size=t.shape)
            elif method == 0:  # peaked: laplace
                values = rng.laplace(0, 0.05, t.shape)
            elif method == 1:  # one value: const
                values = np.full(t.shape, 0.1)
            else:            # uniform: raw
                values = rng.uniform(-0.3, 0.3, t.shape)
            t.copy_(torch.from_numpy(values))
    if kind == "hinerv-predicted":  # the grid smooth in time: slices alike, as fitted ones are
        with torch.no_grad():
            model.grids[0].copy_(torch.from_numpy(rng.laplace(0, 0.05, model.grids[0].shape[:1] + (1,) + model.grids[0].shape[2:]))
                                 + torch.linspace(0, 0.1, model.grids[0].shape[1])[None, :, None, None])
    predicted = [name in model.predicted_tensors() for name in model.stored_tensors()]
    payload, _ = pack_tensors(list(quantize_tensors(model.stored_tensors(), 8).values()), predicted)
    header = {"model": model.name, "config": model.config, "width": info.width, "height": info.height,
              "frames": info.frames, "fps": [25, 1], "matrix": "bt601", "range": "tv"}
    data = write_container(header, payload, predicted=any(predicted))
    (HERE / {"legacy": "golden.nvc", "exact": "golden-exact.nvc", "hinerv": "golden-hinerv.nvc",
             "hinerv-predicted": "golden-hinerv-predicted.nvc"}[kind]).write_bytes(data)
    frames = decode_frames(data)
    print(len(data), "bytes")
    print("TENSORS =", repr(tensor_hash(data)))
    print("FRAMES =", repr(hashlib.sha256(frames.tobytes()).hexdigest()))


if __name__ == "__main__":
    flags = {"--exact": "exact", "--hinerv": "hinerv", "--hinerv-predicted": "hinerv-predicted"}
    main(next((flags[a] for a in sys.argv[1:] if a in flags), "legacy"))
