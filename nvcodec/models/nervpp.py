"""NeRV++ (Ghorbel et al., ICIP 2024): NeRV whose upsampling blocks are sandwiched by
separable-conv residual blocks, with a bilinear skip around each stage.

A stage: gated residual block (1x1 conv -> depthwise 5x5 conv, one half gating the other
through GELU -> 1x1 conv) -> NeRV's Conv/PixelShuffle/GELU block -> residual feed-forward
(1x1 -> GELU -> 1x1); plus the stage's input, projected by a 1x1 conv and upsampled
bilinearly, added to its output. Stem, positional encoding, head and sizing are NeRV's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import UpsampleBlock
from .nerv import NeRV

PRESETS = {"xs": 100_000, "s": 300_000, "m": 1_000_000}


class GatedResidual(nn.Module):
    def __init__(self, channels: int, kernel: int = 5):
        super().__init__()
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.depthwise = nn.Conv2d(2 * channels, 2 * channels, kernel, padding=kernel // 2, groups=2 * channels)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.depthwise(self.expand(x)).chunk(2, dim=1)
        return x + self.project(value * F.gelu(gate))


class FeedForward(nn.Module):
    def __init__(self, channels: int, expansion: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, expansion * channels, 1), nn.GELU(),
                                 nn.Conv2d(expansion * channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class Stage(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pre = GatedResidual(c_in)
        self.up = UpsampleBlock(c_in, c_out, stride)
        self.post = FeedForward(c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = F.interpolate(self.skip(x), scale_factor=self.stride, mode="bilinear", align_corners=False)
        return self.post(self.up(self.pre(x))) + skip


class NeRVPP(NeRV):
    name = "nervpp"
    presets = PRESETS

    def make_stage(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        return Stage(c_in, c_out, stride)
