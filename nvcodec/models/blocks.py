"""Pieces shared by the architectures: stride choice, positional encoding, upsampling blocks."""
from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def choose_strides(height: int, width: int, target_cells: int = 144) -> tuple[list[int], tuple[int, int]]:
    """Upsampling strides and the stem size (h0, w0) for a frame of height x width.

    The product of the strides S sets the stem grid ceil(H/S) x ceil(W/S); frames are padded
    up to the grid times S. We pick the strides (first 5, 4, 3 or 2, then 3s and 2s, as NeRV's
    5,2,2,2,2 for 720p and 5,3,2,2,2 for 1080p) that waste the least padding while keeping the
    stem near NeRV's 9x16 = 144 cells.
    """
    best = None
    for depth in range(1, 7):
        for first in (5, 4, 3, 2):
            for rest in itertools.product((3, 2), repeat=depth - 1):
                if list(rest) != sorted(rest, reverse=True):
                    continue
                strides = [first, *rest]
                s = math.prod(strides)
                h0, w0 = -(-height // s), -(-width // s)
                waste = (h0 * w0 * s * s) / (height * width) - 1
                score = 4 * waste + abs(math.log(h0 * w0 / target_cells))
                key = (round(score, 6), depth, strides)
                if best is None or key < best[0]:
                    best = (key, strides, (h0, w0))
    return best[1], best[2]


def positional_encoding(t: torch.Tensor, levels: int, base: float) -> torch.Tensor:
    """NeRV's encoding of a normalised time t in [0, 1]: sin and cos of base^i * pi * t."""
    freqs = base ** torch.arange(levels, dtype=torch.float32, device=t.device) * math.pi
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def he_initialize(conv: nn.Conv2d) -> None:
    """He-normal weights (fan in, ReLU gain) and zero biases."""
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    nn.init.zeros_(conv.bias)


def dense_channels_last(x: torch.Tensor) -> bool:
    """True where x is laid out channels_last and not also contiguous (a fit's activations)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def conv_shuffle(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int,
                 act: bool = True) -> torch.Tensor:
    """Conv (same padding) -> PixelShuffle(stride) -> GELU, the math of NeRV's block, for an
    input in channels_last memory (fitting).

    There PyTorch's pixel shuffle and a GELU on its output are strided passes; here the
    convolution's output channels are reordered (c, i, j) -> (i, j, c) (the weights as stored
    keep PyTorch's order), GELU runs on the convolution's dense output (it commutes with the
    shuffle), and the shuffle becomes one copy of runs of stride x c values: x1.07 (bunny) and
    x1.14 (bikes) faster NeRV steps at 100k parameters (bench/step_speed.py)."""
    s, pad = stride, weight.shape[-1] // 2
    o = weight.shape[0] // (s * s)
    weight = weight.unflatten(0, (o, s * s)).transpose(0, 1).flatten(0, 1)
    y = F.conv2d(x, weight.contiguous(memory_format=torch.channels_last),
                 bias.view(o, s * s).t().flatten(), padding=pad)
    if act:
        y = F.gelu(y)
    n, _, h, w = y.shape
    y = y.permute(0, 2, 3, 1).reshape(n, h, w, s, s, o).transpose(2, 3).reshape(n, h * s, w * s, o)
    return y.permute(0, 3, 1, 2)


class UpsampleBlock(nn.Sequential):
    """Conv(k) to out*s^2 channels -> PixelShuffle(s) -> GELU: NeRV's block (computed by
    conv_shuffle when fitting; the layers keep their names in the state dict and the file)."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = 3, act: bool = True,
                 he_init: bool = False):
        """``he_init``: He-normal weights (fan in, ReLU gain) and zero biases instead of PyTorch's
        default (uniform, gain 1/sqrt(3)), which shrinks what differs between inputs ~3x a block."""
        conv = nn.Conv2d(c_in, c_out * stride * stride, kernel, padding=kernel // 2)
        if he_init:
            he_initialize(conv)
        layers: list[nn.Module] = [conv, nn.PixelShuffle(stride)]
        if act:
            layers.append(nn.GELU())
        super().__init__(*layers)
        self.stride, self.act = stride, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if dense_channels_last(x):
            return conv_shuffle(x, self[0].weight, self[0].bias, self.stride, self.act)
        # contiguous inputs (the decoder's, and its memory estimate's hooks) run the layers
        # themselves, exactly as before: files decode bit for bit
        return super().forward(x)


def count_params(build: Callable[[], nn.Module]) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def largest_width(fits: Callable[[int], bool], low: int = 1, high: int = 4096) -> int:
    """The largest integer width for which fits(width) holds (fits must be monotone)."""
    if not fits(low):
        return low
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low
