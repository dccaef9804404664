"""Positional features are the same on every machine: each model's, for up to 10^4 frames, within
1e-6 of a reference computed independently in 50-digit arithmetic (mpmath), and unchanged by the
device the frame index lives on."""
import mpmath
import numpy as np
import pytest
import torch

from nvcodec.models import model_class
from nvcodec.models.coords import fourier_features, frame_encoding

mpmath.mp.dps = 50


def reference(values, base, levels) -> np.ndarray:
    """sin then cos of pi * base^k * v, for rationals v given as mpmath numbers."""
    rows = []
    for v in values:
        angles = [mpmath.pi * mpmath.mpf(base) ** k * v for k in range(levels)]
        rows.append([float(mpmath.sin(a)) for a in angles] + [float(mpmath.cos(a)) for a in angles])
    return np.array(rows)


@pytest.mark.parametrize("frames", [2, 7, 250, 10_000])
def test_frame_encoding_matches_an_exact_reference(frames):
    rng = np.random.default_rng(frames)
    index = sorted({0, frames - 1, *rng.integers(0, frames, 40).tolist()})
    ours = frame_encoding(torch.tensor(index), frames, 80, 1.25).numpy()
    ref = reference([mpmath.mpf(i) / (frames - 1) for i in index], 1.25, 80)
    assert ours.dtype == np.float32 and ours.shape == (len(index), 160)
    assert np.abs(ours - ref).max() < 1e-6


def test_float32_angles_are_not_exact_at_high_frequencies():
    """What the exact reduction replaces: t * 1.25^79 * pi in float32 is off by radians."""
    frames, index = 250, torch.arange(250)
    naive = torch.sin((index.float() / (frames - 1))[:, None] * (1.25 ** torch.arange(80.0) * np.pi))
    exact = frame_encoding(index, frames, 80, 1.25)[:, :80]
    assert (naive - exact)[:, 70:].abs().max() > 0.5


def test_nerv_and_nervpp_features_follow_the_exact_encoding():
    for name in ("nerv", "nervpp"):
        cls = model_class(name)
        config = cls.configure(64, 36, 10_000, 3_000)
        assert config["exact_pe"] == 1
        model = cls(config)
        index = torch.tensor([0, 1, 4_999, 9_998, 9_999])
        ref = reference([mpmath.mpf(i) / 9_999 for i in index.tolist()], config["pe_base"], config["pe_levels"])
        assert np.abs(model.encode_index(index).numpy() - ref).max() < 1e-6


def test_nirvana_patch_features_match_an_exact_reference():
    cls = model_class("nirvana")
    config = cls.configure(176, 144, 12)
    assert config["exact_pe"] == 1
    model = cls(config)
    ny, nx, levels = 144 // config["patch"], 176 // config["patch"], config["pe_levels"]
    feats = model.patch_features(torch.device("cpu")).numpy()
    ys = reference([mpmath.mpf(2 * i + 1) / (2 * ny) for i in range(ny)], 2, levels)
    xs = reference([mpmath.mpf(2 * i + 1) / (2 * nx) for i in range(nx)], 2, levels)
    for row, (iy, ix) in enumerate([(iy, ix) for iy in range(ny) for ix in range(nx)]):
        want = np.concatenate([ys[iy, :levels], xs[ix, :levels], ys[iy, levels:], xs[ix, levels:]])
        assert np.abs(feats[row] - want).max() < 1e-6


def test_features_do_not_depend_on_the_index_dtype_or_order():
    index = torch.tensor([3, 0, 9_999, 3], dtype=torch.int32)
    a = frame_encoding(index, 10_000, 80, 1.25)
    b = frame_encoding(torch.tensor([0, 3, 9_999]), 10_000, 80, 1.25)
    assert torch.equal(a[[1, 0, 2]], b) and torch.equal(a[0], a[3])


def test_fourier_features_reduce_huge_angles_exactly():
    """2^40 * pi * (1/3): the angle mod 2 pi is pi * (2^40 mod 6) / 3 exactly."""
    got = fourier_features([1], 3, 2.0, 41)[0, 40].item()
    assert got == pytest.approx(float(mpmath.sin(mpmath.pi * (2 ** 40 % 6) / 3)), abs=1e-7)
