"""NeRV (Chen et al., NeurIPS 2021): frame index -> positional encoding -> MLP -> a small
feature map -> Conv/PixelShuffle/GELU blocks -> RGB."""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import nn

from .base import INR, require
from .blocks import UpsampleBlock, choose_strides, count_params, largest_width, positional_encoding
from .coords import frame_encoding

#: Sizes of the paper (parameters, at 720p); smaller ones for CPUs.
PRESETS = {"xs": 100_000, "s": 300_000, "m": 1_000_000, "nerv-s": 3_200_000,
           "nerv-m": 6_300_000, "nerv-l": 12_500_000}


class NeRV(INR):
    name = "nerv"
    presets = PRESETS

    def __init__(self, config: dict[str, Any], decoder_only: bool = False):
        super().__init__(config, decoder_only)
        c = config
        h0, w0 = c["stem_size"]
        channels, strides = c["channels"], c["strides"]
        self.mlp = nn.Sequential(
            nn.Linear(2 * c["pe_levels"], c["mlp_hidden"]), nn.GELU(),
            nn.Linear(c["mlp_hidden"], channels[0] * h0 * w0), nn.GELU())
        self.blocks = nn.ModuleList(
            self.make_stage(channels[i], channels[i + 1], s) for i, s in enumerate(strides))
        self.head = nn.Conv2d(channels[-1], 3, 1)
        # Boosting-NeRV's conditional decoder, in its simplest form: the MLP's hidden features of
        # the frame index scale and shift each stage's output channels (starting as the identity).
        self.film = None
        if c.get("film", 0):
            self.film = nn.ModuleList(nn.Linear(c["mlp_hidden"], 2 * ch) for ch in channels[1:])
            for layer in self.film:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def make_stage(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        """One upsampling stage (NeRV++ overrides this)."""
        return UpsampleBlock(c_in, c_out, stride)

    @classmethod
    def configure(cls, width: int, height: int, frames: int, params: Optional[int] = None,
                  pe_levels: int = 80, pe_base: float = 1.25, reduction: float = 2.0,
                  min_channels: int = 8, mlp_ratio: float = 2.0, film: bool = False,
                  channels_floor: int = 0, **options: Any) -> dict[str, Any]:
        """``mlp_ratio``: the MLP's hidden width over the stem's channels (c0); ``film``: each
        stage's output scaled and shifted per channel by the frame's MLP features;
        ``channels_floor``: every stage at least this wide, even wider than the stem (the stem
        then shrinks to keep the parameter count)."""
        if options:
            raise TypeError(f"nerv: unknown options {sorted(options)}")
        strides, (h0, w0) = choose_strides(height, width)
        params = params or PRESETS["xs"]

        def config_for(c0: int) -> dict[str, Any]:
            channels = [c0, c0]  # the first block keeps the stem's width, as NeRV's expansion 1
            for _ in strides[1:]:
                channels.append(max(int(channels[-1] / reduction), min(min_channels, c0), channels_floor))
            return {"frames": frames, "out_size": [h0 * math.prod(strides), w0 * math.prod(strides)],
                    "stem_size": [h0, w0], "strides": strides, "channels": channels,
                    "mlp_hidden": min(512, max(16, round(mlp_ratio * c0))), "pe_levels": pe_levels, "pe_base": pe_base,
                    **({"film": 1} if film else {}), "exact_pe": 1}

        c0 = largest_width(lambda c: count_params(lambda: cls(config_for(c))) <= params, 2, 2048)
        return config_for(c0)

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        extra = set(config) - {"frames", "out_size", "stem_size", "strides", "channels", "mlp_hidden",
                               "pe_levels", "pe_base", "film", "exact_pe"}
        if extra:
            raise ValueError(f"unknown config keys {sorted(extra)}")
        require(config, "frames", int, 1, 10**6)
        strides = require(config, "strides", int, 1, 8, (1, 8))
        require(config, "channels", int, 1, 4096, (len(strides) + 1, len(strides) + 1))
        h0, w0 = require(config, "stem_size", int, 1, 1024, (2, 2))
        out = require(config, "out_size", int, 1, 65536, (2, 2))
        if out != [h0 * math.prod(strides), w0 * math.prod(strides)]:
            raise ValueError("config 'out_size' does not match stem_size times the strides")
        require(config, "mlp_hidden", int, 1, 8192)
        require(config, "pe_levels", int, 1, 256)
        require(config, "pe_base", float, 1.0, 4.0)
        if "film" in config:
            require(config, "film", int, 0, 1)
        if "exact_pe" in config:
            require(config, "exact_pe", int, 0, 1)

    def features(self, index: torch.Tensor, stages: Optional[int] = None) -> torch.Tensor:
        """The features after the first ``stages`` upsampling stages (all of them: None)."""
        c = self.config
        hidden = self.mlp[:2](self.encode_index(index))
        x = self.mlp[2:](hidden).view(-1, c["channels"][0], *c["stem_size"])
        for i, block in enumerate(self.blocks[:stages]):
            x = block(x)
            if self.film is not None:
                scale, shift = self.film[i](hidden)[:, :, None, None].chunk(2, dim=1)
                x = x * (1 + scale) + shift
        return x

    def encode_index(self, index: torch.Tensor) -> torch.Tensor:
        """The frame index's positional features: reduced exactly (coords.py, the same on every
        machine) in files with ``exact_pe``; in older files, as they were encoded (float32 on the
        model's device), so that they decode as before."""
        c = self.config
        if index.device.type == "meta":  # shapes only
            return torch.empty(len(index), 2 * c["pe_levels"], device="meta")
        if c.get("exact_pe", 0):
            return frame_encoding(index, c["frames"], c["pe_levels"], c["pe_base"])
        t = index.float() / max(c["frames"] - 1, 1)
        return positional_encoding(t, c["pe_levels"], c["pe_base"])

    def forward(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(index)))

    @property
    def coarse(self) -> Optional[tuple[int, int]]:
        c = self.config
        return (c["strides"][-1], c["channels"][-2]) if len(self.blocks) > 1 else None

    def coarse_features(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.features(index, len(self.blocks) - 1)


