"""Quality metrics: PSNR (RGB, and YUV 6:1:1), SSIM and MS-SSIM.

PSNR-RGB is the mean over frames of per-frame PSNR on 8-bit RGB (the NeRV papers' convention).
PSNR-YUV is (6 Y + U + V) / 8 on yuv420p planes (the video-coding convention).
"""
from __future__ import annotations

import hashlib
import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    return float("inf") if mse <= 0 else 10 * math.log10(peak * peak / mse)


def frame_psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame PSNR of uint8 arrays shaped (T, ...) (or one frame, as a length-1 array)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.ndim <= 3 and a.shape[-1] == 3 or a.ndim == 2:
        a, b = a[None], b[None]
    diff = a.reshape(len(a), -1).astype(np.float64) - b.reshape(len(b), -1)
    mse = np.mean(diff * diff, axis=1)
    with np.errstate(divide="ignore"):
        return np.where(mse == 0, np.inf, 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12)))


def frames_sha256(frames: np.ndarray, chunk: int = 16) -> str:
    """SHA-256 of uint8 frames (T, ...) as C-ordered bytes, hashed ``chunk`` frames at a time (a
    memory-mapped video is not copied whole): the fingerprint of the reference a score is taken
    against, so that two machines can tell whether they scored against the same frames."""
    if frames.dtype != np.uint8:
        raise ValueError(f"frames are {frames.dtype}, not uint8")
    digest = hashlib.sha256()
    for start in range(0, len(frames), chunk):
        digest.update(np.ascontiguousarray(frames[start:start + chunk]).data)
    return digest.hexdigest()


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the per-frame PSNR (dB) of two uint8 RGB videos (T, H, W, 3)."""
    return float(np.mean(np.minimum(frame_psnr(a, b), 100.0)))


def psnr_yuv(ref: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> dict[str, float]:
    """PSNR of yuv420p planes (Y, U, V), each (T, h, w): Y, U, V and (6 Y + U + V) / 8."""
    y, u, v = (float(np.mean(np.minimum(frame_psnr(r, t), 100.0))) for r, t in zip(ref, test))
    return {"y": y, "u": u, "v": v, "yuv": (6 * y + u + v) / 8}


# ---------------------------------------------------------------------------- SSIM (torch)
def _gaussian_1d(size: int, sigma: float, device, dtype) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (g / g.sum()).to(dtype)


def _ssim_parts(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor):
    """SSIM and contrast-structure maps; the Gaussian filter is separable, and the five local
    moments go through one grouped convolution (three times faster than five 2-D ones)."""
    c = x.shape[1]
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    k = len(g)
    stack = F.conv2d(stack, g.view(1, 1, k, 1).expand(5 * c, 1, k, 1), groups=5 * c)
    stack = F.conv2d(stack, g.view(1, 1, 1, k).expand(5 * c, 1, 1, k), groups=5 * c)
    mu_x, mu_y, xx, yy, xy = stack.split(c, dim=1)
    sxx = xx - mu_x ** 2
    syy = yy - mu_y ** 2
    sxy = xy - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = ((2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)) * cs
    return ssim, cs


def ssim_torch(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of image batches (B, C, H, W) in [0, 1]; differentiable (used as a loss)."""
    size = min(window_size, x.shape[-1], x.shape[-2])
    return _ssim_parts(x, y, _gaussian_1d(size, sigma, x.device, x.dtype))[0].mean()


_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_torch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM (Wang et al. 2003, five scales) per image of (B, C, H, W) batches in [0, 1].

    The five scales need the smaller side above 160 pixels; smaller inputs raise ValueError.
    """
    if min(x.shape[-2:]) <= 160:
        raise ValueError(f"MS-SSIM needs the smaller side above 160 px, got {tuple(x.shape[-2:])}")
    window = _gaussian_1d(11, 1.5, x.device, x.dtype)
    values = []
    for i, _ in enumerate(_MS_WEIGHTS):
        ssim, cs = _ssim_parts(x, y, window)
        values.append((ssim if i == len(_MS_WEIGHTS) - 1 else cs).mean(dim=(1, 2, 3)).clamp_min(0))
        if i < len(_MS_WEIGHTS) - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    weights = torch.tensor(_MS_WEIGHTS, dtype=x.dtype, device=x.device)
    return torch.prod(torch.stack(values, dim=1) ** weights, dim=1)


def _video_score(fn, a: np.ndarray, b: np.ndarray, batch: int = 8) -> float:
    scores = []
    with torch.no_grad():
        for i in range(0, len(a), batch):
            x = torch.from_numpy(np.ascontiguousarray(a[i:i + batch])).permute(0, 3, 1, 2).double() / 255
            y = torch.from_numpy(np.ascontiguousarray(b[i:i + batch])).permute(0, 3, 1, 2).double() / 255
            scores.append(fn(x, y))
    return float(torch.cat(scores).mean())


def ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over frames of two uint8 RGB videos (T, H, W, 3)."""
    return _video_score(lambda x, y: ssim_torch(x, y).reshape(1).expand(len(x)), a, b)


def ms_ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """Mean MS-SSIM over frames of two uint8 RGB videos (T, H, W, 3); smaller side must be > 160."""
    return _video_score(ms_ssim_torch, a, b)


# ---------------------------------------------------------------------------- BD-rate
def overlap(a: Sequence[float], b: Sequence[float]) -> Optional[tuple[float, float]]:
    """The range two curves' qualities share, or None when they share none."""
    lo, hi = max(min(a), min(b)), min(max(a), max(b))
    return (lo, hi) if hi > lo else None


def bd_rate(ref_rate: Sequence[float], ref_psnr: Sequence[float], test_rate: Sequence[float],
            test_psnr: Sequence[float], method: str = "pchip") -> float:
    """Bjøntegaard delta rate (%) of the test curve against the reference: the mean difference
    of log rate at equal quality, over the quality range both curves cover. Negative = fewer bits.

    ``method``: "pchip" (piecewise cubic Hermite, as JVET's spreadsheet) or "cubic" (one cubic
    polynomial per curve, VCEG-M33). NaN when the curves' quality ranges do not overlap, or when
    a curve's quality does not rise strictly with its rate (log rate is then no function of quality).
    """
    shared = overlap(ref_psnr, test_psnr)
    if shared is None:
        return float("nan")
    lo, hi = shared
    areas = []
    for rate, psnr in ((ref_rate, ref_psnr), (test_rate, test_psnr)):
        order = np.argsort(rate)
        q = np.asarray(psnr, dtype=np.float64)[order]
        r = np.log(np.asarray(rate, dtype=np.float64)[order])
        if not np.all(np.diff(q) > 0):
            return float("nan")
        if method == "cubic":
            poly = np.polyint(np.polyfit(q, r, min(3, len(q) - 1)))
            areas.append(np.polyval(poly, hi) - np.polyval(poly, lo))
        elif method == "pchip":
            from scipy.interpolate import PchipInterpolator

            areas.append(PchipInterpolator(q, r).integrate(lo, hi))
        else:
            raise ValueError(f"bd_rate: unknown method {method!r}; use pchip or cubic")
    return float((np.exp((areas[1] - areas[0]) / (hi - lo)) - 1) * 100)
