"""A committed file keeps decoding to the same integers and frames: a change to the format, the
entropy tables or the decoder that would break old files fails here (tests/data/make_golden.py
wrote it and printed these hashes)."""
import hashlib
import sys
from pathlib import Path

import numpy as np

from nvcodec.bitstream.decoder import decode_frames, load_bitstream

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(DATA))
from make_golden import tensor_hash  # noqa: E402

TENSORS = "5d6016d61cbd0bb858d7ab1b763ea2341b882053d97582d765580ffd8c0f52a3"
#: Frames pass through float32 convolutions: pinned for this torch build on x86_64; integers are
#: exact everywhere, so on another CPU a frame mismatch alone points at the kernels, not the file.
FRAMES = "13d813d741160c0d814e063444a23b7a197ef0d1b08112d7e0faec81d96b3d8e"


def test_golden_file_uses_every_coding_method():
    assert sorted(set(load_bitstream(DATA / "golden.nvc").tensor_methods.values())) == \
        ["categorical", "const", "laplace", "raw"]


def test_golden_file_decodes_to_the_pinned_integers_and_frames():
    data = (DATA / "golden.nvc").read_bytes()
    assert tensor_hash(data) == TENSORS
    frames = decode_frames(data)
    assert frames.shape == (4, 12, 20, 3) and frames.dtype == np.uint8
    assert hashlib.sha256(frames.tobytes()).hexdigest() == FRAMES

#: tests/data/golden-exact.nvc: the same kind of file with positional features reduced exactly
#: (config ``exact_pe``, 80 levels, where float32 angles would differ): written by
#: ``python tests/data/make_golden.py --exact``.
EXACT_TENSORS = "a78c4b45aec796230e9bbe81680c443538963e25d508ff790b0e2f7933dd530c"
EXACT_FRAMES = "f85dcdb1e4a8b648e1c1275416ede9bef3f928f321fc4eab73cb03d90f8a9eb7"


def test_golden_exact_file_decodes_to_the_pinned_integers_and_frames():
    data = (DATA / "golden-exact.nvc").read_bytes()
    assert load_bitstream(data).model.config["exact_pe"] == 1
    assert tensor_hash(data) == EXACT_TENSORS
    frames = decode_frames(data)
    assert hashlib.sha256(frames.tobytes()).hexdigest() == EXACT_FRAMES

#: tests/data/golden-hinerv.nvc: the feature-grid model (hinerv, shape mlp-grid with one block: an MLP
#: stem, a base grid, local grids, a block), written by ``python tests/data/make_golden.py --hinerv``.
HINERV_TENSORS = "8a83085162574a90646f0ffb49624cc887625f21afefc6d0ec30c2143ae49ef3"
HINERV_FRAMES = "123a6d2b2543904ceb73f7ed99e2edb729ccc50a361e0adaea07f21789af5243"


def test_golden_hinerv_file_decodes_to_the_pinned_integers_and_frames():
    data = (DATA / "golden-hinerv.nvc").read_bytes()
    stream = load_bitstream(data)
    assert stream.model.name == "hinerv"
    names = set(stream.tensor_methods)
    assert any(n.startswith("grids.") for n in names) and any(".local" in n for n in names)
    assert tensor_hash(data) == HINERV_TENSORS
    frames = decode_frames(data)
    assert frames.shape == (9, 24, 40, 3)
    assert hashlib.sha256(frames.tobytes()).hexdigest() == HINERV_FRAMES
    # frames decode independently: a range is the same bytes as the full decode's
    assert np.array_equal(decode_frames(data, frames=(3, 7)), frames[3:7])

#: tests/data/golden-hinerv-predicted.nvc: the same model with its base grid stored channels first and
#: coded predicted (format version 5), written by ``python tests/data/make_golden.py --hinerv-predicted``.
PREDICTED_TENSORS = "1b2d37deb90e3390de65984d5a7c1f7be812dbddd885190f912984c50ece2b5d"
PREDICTED_FRAMES = "d11b363e503624c3e18fceb80829a516a59b1eac650daa1d30716b8813da6754"


def test_golden_predicted_hinerv_file_decodes_to_the_pinned_integers_and_frames():
    data = (DATA / "golden-hinerv-predicted.nvc").read_bytes()
    assert data[4] == 5
    stream = load_bitstream(data)
    assert stream.model.config["grid_layout"] == "cthw" and stream.tensor_methods["grids.0"] == "predicted laplace"
    assert tensor_hash(data) == PREDICTED_TENSORS
    frames = decode_frames(data)
    assert hashlib.sha256(frames.tobytes()).hexdigest() == PREDICTED_FRAMES
    assert np.array_equal(decode_frames(data, frames=(2, 5)), frames[2:5])
