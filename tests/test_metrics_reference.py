"""nvcodec.metrics' SSIM and MS-SSIM (torch, used for scores and as a loss) against scikit-image,
an independent implementation: SSIM directly (skimage.metrics.structural_similarity with the
Gaussian window of Wang et al.), MS-SSIM built from scikit-image's Gaussian filter and 2x2 mean
downscaling (scikit-image has no MS-SSIM of its own)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

skimage = pytest.importorskip("skimage")
from skimage.filters import gaussian  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402
from skimage.transform import downscale_local_mean  # noqa: E402

from nvcodec.metrics import ms_ssim_rgb, ms_ssim_torch, ssim_rgb, ssim_torch  # noqa: E402

SIGMA, TRUNCATE = 1.5, 3.5  # an 11-tap window, as Wang et al. and nvcodec use
C1, C2 = 0.01 ** 2, 0.03 ** 2


def _pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    t, h, w = shape
    # a smooth picture plus noise, so that the local statistics are not all alike
    y, x = np.mgrid[0:h, 0:w]
    base = (np.sin(x / 7.0)[None, :, :, None] * np.cos(y / 11.0)[None, :, :, None] + 1) * 100
    a = np.clip(base + rng.normal(0, 20, (t, h, w, 3)), 0, 255).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    return a, b


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, channel_axis=-1, data_range=1.0, gaussian_weights=True, sigma=SIGMA,
                                 use_sample_covariance=False, K1=0.01, K2=0.03)


def _sk_cs(a: np.ndarray, b: np.ndarray) -> float:
    """Mean contrast-structure term over the window's valid positions, from scikit-image's filter."""
    f = lambda z: gaussian(z, sigma=SIGMA, truncate=TRUNCATE, channel_axis=-1, mode="reflect", preserve_range=True)
    mu_a, mu_b = f(a), f(b)
    saa, sbb, sab = f(a * a) - mu_a ** 2, f(b * b) - mu_b ** 2, f(a * b) - mu_a * mu_b
    cs = (2 * sab + C2) / (saa + sbb + C2)
    pad = int(TRUNCATE * SIGMA + 0.5)
    return float(cs[pad:-pad, pad:-pad].mean())


def _sk_ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    values = []
    for i in range(len(weights)):
        last = i == len(weights) - 1
        values.append(max(_sk_ssim(a, b) if last else _sk_cs(a, b), 0.0))
        if not last:
            h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2  # avg_pool2d drops an odd last row / column
            a, b = downscale_local_mean(a[:h, :w], (2, 2, 1)), downscale_local_mean(b[:h, :w], (2, 2, 1))
    return float(np.prod(np.array(values) ** np.array(weights)))


@pytest.mark.parametrize("shape", [(2, 48, 64), (1, 37, 53)])
def test_ssim_matches_scikit_image(shape):
    a, b = _pair(shape)
    ours = ssim_rgb(a, b)
    reference = np.mean([_sk_ssim(x / 255.0, y / 255.0) for x, y in zip(a, b)])
    assert ours == pytest.approx(reference, abs=1e-6)
    x = torch.from_numpy(a[:1]).permute(0, 3, 1, 2).double() / 255
    y = torch.from_numpy(b[:1]).permute(0, 3, 1, 2).double() / 255
    assert float(ssim_torch(x, y)) == pytest.approx(_sk_ssim(a[0] / 255.0, b[0] / 255.0), abs=1e-6)


@pytest.mark.parametrize("shape", [(1, 176, 192), (1, 181, 203)])
def test_ms_ssim_matches_scikit_image(shape):
    a, b = _pair(shape, seed=1)
    reference = _sk_ms_ssim(a[0] / 255.0, b[0] / 255.0)
    assert ms_ssim_rgb(a, b) == pytest.approx(reference, abs=1e-5)
    x = torch.from_numpy(a).permute(0, 3, 1, 2).double() / 255
    y = torch.from_numpy(b).permute(0, 3, 1, 2).double() / 255
    assert float(ms_ssim_torch(x, y)[0]) == pytest.approx(reference, abs=1e-5)


def test_identical_frames_score_one():
    a, _ = _pair((1, 176, 176))
    assert ssim_rgb(a, a) == pytest.approx(1.0, abs=1e-9)
    assert ms_ssim_rgb(a, a) == pytest.approx(1.0, abs=1e-9)
