"""Positional features that are the same on every machine.

A Fourier feature sin(pi * f * v) with f up to 1.25^79 (NeRV) or 2^k (NIRVANA) turns the last bit
of v into radians: computed in float32 on the model's device, it depends on how that device
divides (CUDA multiplies by a reciprocal) and evaluates sin of 10^8. Here the angle is reduced
exactly first: v and f are rationals (a float is one), f * v mod 2 is computed in integers, and
only that remainder r in [0, 2) becomes a float64 (correctly rounded by Python's int division);
sin(pi * r) and cos(pi * r) are taken in float64 on the host and rounded to float32. The result
is within ~1e-16 of the exact value before that rounding, so every IEEE machine gets the same
float32 features (up to a float64 library's last-bit differences surviving the rounding, about
one value in 10^8, and then only by one float32 ulp).

Encoder and decoder both call these functions; the features are made on the CPU and moved to
the model's device.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch


@lru_cache(maxsize=64)
def _powers(base: float, levels: int) -> tuple[tuple[int, int], ...]:
    """(numerator, denominator) of base^k, k < levels, exactly (a float is a dyadic rational)."""
    b = Fraction(base)
    return tuple(((b ** k).numerator, (b ** k).denominator) for k in range(levels))


def reduced_angles(numerators: Sequence[int], denominator: int, base: float, levels: int) -> np.ndarray:
    """r[i, k] = (base^k * numerators[i] / denominator) mod 2, in float64: pi * r is the angle
    pi * base^k * v_i reduced exactly to [0, 2 pi)."""
    out = np.empty((len(numerators), levels), dtype=np.float64)
    for k, (p, q) in enumerate(_powers(float(base), levels)):
        den = q * denominator
        for i, n in enumerate(numerators):
            out[i, k] = (p * int(n)) % (2 * den) / den
    return out


def fourier_features(numerators: Sequence[int], denominator: int, base: float, levels: int) -> torch.Tensor:
    """(N, 2 * levels) float32: sin then cos of pi * base^k * (numerators[i] / denominator)."""
    angles = math.pi * reduced_angles(numerators, denominator, base, levels)
    return torch.from_numpy(np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32))


def frame_encoding(index: torch.Tensor, frames: int, levels: int, base: float) -> torch.Tensor:
    """NeRV's encoding of frame ``index`` of ``frames`` (t = index / (frames - 1)), exactly:
    (B, 2 * levels) float32 on index's device."""
    values = fourier_features(index.tolist(), max(frames - 1, 1), base, levels)
    return values.to(index.device)


def time_blend(index: torch.Tensor, frames: int, slices: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where frame ``index`` of ``frames`` falls between the ``slices`` time slices of a grid
    spread evenly over the clip (slice 0 at the first frame, the last at the last): the slice
    below, ``lo`` (B,) int64, and the weight of the slice above, ``w`` (B,) float32 in [0, 1).
    Computed in integers (position = index * (slices - 1) / (frames - 1)), so the weights do not
    depend on the device. ``lo + 1`` is a valid slice wherever ``w > 0`` (one slice: lo 0, w 0)."""
    if index.device.type == "meta":  # shapes only
        return torch.zeros_like(index), torch.zeros(len(index), device="meta")
    span, steps = max(frames - 1, 1), max(slices - 1, 0)
    lo, w = [], []
    for i in index.tolist():
        q, r = divmod(int(i) * steps, span)
        if q >= steps:  # the last frame sits on the last slice
            q, r = max(steps - 1, 0), span if steps else 0
        lo.append(q)
        w.append(r / span)
    return (torch.tensor(lo, dtype=torch.int64, device=index.device),
            torch.tensor(w, dtype=torch.float64).to(torch.float32).to(index.device))
