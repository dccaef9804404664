"""HNeRV (Chen et al., CVPR 2023): a ConvNeXt encoder turns each frame into a small embedding
(d channels on a coarse grid); only the embeddings and the decoder are stored.

The decoder: a 1x1 conv from the embedding to c0 channels, then upsampling blocks whose kernels
grow 1 -> 3 (``max_kernel``: 3 by default; the paper's 5 measured worse on a CPU budget, see
bench/studies/2026-11-26-hnerv-bikes/hnerv-bikes.json) while their channels shrink
by r = 1.2 a block (so parameters spread evenly over the blocks), and a 3x3 head. The size budget counts the embeddings too. The encoder is
used while fitting only: ``decoder_only`` models (the decoder's side) do not even build it.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .base import INR, require
from .blocks import UpsampleBlock, choose_strides, count_params, largest_width

PRESETS = {"xs": 100_000, "s": 300_000, "m": 1_000_000, "hnerv-0.35m": 350_000, "hnerv-0.75m": 750_000,
           "hnerv-1.5m": 1_500_000, "hnerv-3m": 3_000_000}
#: HNeRV's embedding grids are tiny (2x4 for 640x1280): aim the stride choice at 8 cells.
EMBED_CELLS = 8
#: the encoder's learning rate relative to the decoder's (see HNeRV.param_groups)
ENCODER_LR_SCALE = 0.05
#: He initialisation of the upsampling convolutions: with PyTorch's default, HNeRV's five blocks
#: rendered the same frame for every embedding at the start and bikes reached 17.4 dB in a minute
#: instead of 21.4 (bench/studies/2026-11-26-hnerv-bikes/hnerv_bikes.py). Not NeRV's default: there it measured -0.18 dB on bikes
#: and +0.48 dB on bunny (bench/levers.py, "kaiming").
HE_INIT = True


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) map (ConvNeXt's channels-first LayerNorm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv -> LayerNorm -> 1x1 (4x) -> GELU -> 1x1, with a layer-scaled residual."""

    def __init__(self, channels: int):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = ChannelNorm(channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, 4 * channels, 1), nn.GELU(), nn.Conv2d(4 * channels, channels, 1))
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.mlp(self.norm(self.dwconv(x)))


class Encoder(nn.Sequential):
    """Downsampling (patchify conv of the stride) + a ConvNeXt block per stage, then 1x1 to d."""

    def __init__(self, strides: list[int], width: int, embed_dim: int):
        layers: list[nn.Module] = []
        c_in = 3
        for s in strides:  # the decoder's strides, in the same order (largest first), as HNeRV does:
            # the first, largest patchify conv makes the encoder cheap (its blocks run at H/5 and below)
            layers += [nn.Conv2d(c_in, width, s, stride=s), ChannelNorm(width), ConvNeXtBlock(width)]
            c_in = width
        layers.append(nn.Conv2d(width, embed_dim, 1))
        super().__init__(*layers)


class HNeRV(INR):
    name = "hnerv"
    needs_frames = True
    presets = PRESETS

    def __init__(self, config: dict[str, Any], decoder_only: bool = False):
        super().__init__(config, decoder_only)
        c = config
        h0, w0 = c["embed_size"]
        channels, strides = c["channels"], c["strides"]
        # a parameter: a rate-aware fit quantizes it and counts its bits like the weights' (from
        # before_quantization on, the embeddings are fitted themselves, the encoder set aside)
        self.embeddings = nn.Parameter(torch.zeros(c["embed_dim"], c["frames"], h0, w0))
        self.embeddings_fitted = False
        self.stem = nn.Sequential(nn.Conv2d(c["embed_dim"], channels[0], 1), nn.GELU())
        self.blocks = nn.ModuleList(
            UpsampleBlock(channels[i], channels[i + 1], s, kernel=min(1 + 2 * i, c["max_kernel"]), he_init=HE_INIT)
            for i, s in enumerate(strides))
        self.head = nn.Conv2d(channels[-1], 3, 3, padding=1)
        self.encoder = None if decoder_only else Encoder(strides, c["enc_dim"], c["embed_dim"])

    @classmethod
    def configure(cls, width: int, height: int, frames: int, params: Optional[int] = None,
                  embed_dim: int = 16, enc_dim: int = 32, reduction: float = 1.2, min_channels: int = 12,
                  max_kernel: int = 3,
                  **options: Any) -> dict[str, Any]:
        if options:
            raise TypeError(f"hnerv: unknown options {sorted(options)}")
        strides, (h0, w0) = choose_strides(height, width, target_cells=EMBED_CELLS)
        params = params or PRESETS["xs"]
        # The embeddings take no more than a quarter of the budget: fewer channels if they would.
        embed_dim = max(1, min(embed_dim, params // (4 * frames * h0 * w0)))
        total = math.prod(strides)

        def config_for(c0: int) -> dict[str, Any]:
            channels = [c0]
            for _ in strides:
                channels.append(max(round(channels[-1] / reduction), min(min_channels, c0)))
            return {"frames": frames, "out_size": [h0 * total, w0 * total], "embed_size": [h0, w0],
                    "embed_dim": embed_dim, "strides": strides, "channels": channels, "enc_dim": enc_dim,
                    "max_kernel": max_kernel}

        # the embeddings are a parameter (fitted inside the rate): count_params counts them already
        c0 = largest_width(lambda c: count_params(lambda: cls(config_for(c), decoder_only=True)) <= params, 2, 4096)
        return config_for(c0)

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        extra = set(config) - {"frames", "out_size", "embed_size", "embed_dim", "strides", "channels", "enc_dim",
                               "max_kernel"}
        if extra:
            raise ValueError(f"unknown config keys {sorted(extra)}")
        require(config, "frames", int, 1, 10**6)
        strides = require(config, "strides", int, 1, 8, (1, 8))
        require(config, "channels", int, 1, 4096, (len(strides) + 1, len(strides) + 1))
        h0, w0 = require(config, "embed_size", int, 1, 1024, (2, 2))
        require(config, "embed_dim", int, 1, 256)
        require(config, "enc_dim", int, 1, 1024)
        if require(config, "max_kernel", int, 1, 7) % 2 == 0:
            raise ValueError("config 'max_kernel' must be odd")
        total = math.prod(strides)
        if require(config, "out_size", int, 1, 65536, (2, 2)) != [h0 * total, w0 * total]:
            raise ValueError("config 'out_size' does not match embed_size times the strides")
        if config["frames"] * config["embed_dim"] * h0 * w0 > 2**28:
            raise ValueError("embeddings too large")

    def param_groups(self) -> list[dict[str, Any]]:
        """The encoder learns at ENCODER_LR_SCALE of the decoder's rate: at the decoder's 5e-3 its
        output collapsed to one embedding for every frame within 25 steps on bikes (fast motion;
        the decoder, still rendering the mean frame, pays for any variation it cannot yet use),
        and the fit never left the mean frame (14 dB)."""
        encoder = [] if self.encoder is None else list(self.encoder.parameters())
        ids = {id(p) for p in encoder}
        decoder = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": decoder, "lr_scale": 1.0}] + ([{"params": encoder, "lr_scale": ENCODER_LR_SCALE}] if encoder else [])

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Float frames (B, 3, H, W) in [0, 1] -> embeddings (B, d, h0, w0); edges replicated up to out_size."""
        out_h, out_w = self.out_size
        x = F.pad(frames, (0, out_w - frames.shape[-1], 0, out_h - frames.shape[-2]), mode="replicate")
        return self.encoder(x)

    def forward(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        if frames is not None and self.encoder is not None and not self.embeddings_fitted:
            x = self.embed(frames)
        else:
            x = self.embeddings[:, index].transpose(0, 1)
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return torch.sigmoid(self.head(x))

    def before_quantization(self, frames: torch.Tensor, resumed: bool = False) -> None:
        """The encoder's embeddings of every frame become the embeddings fitted from here on (the
        quantized phase): quantized, in the rate, steered by rate control."""
        if not resumed:
            with torch.no_grad():
                self._embed_all(frames)
        self.embeddings_fitted = True

    def prepare_storage(self, frames: torch.Tensor) -> None:
        """Run the encoder over every frame (float32) and keep the embeddings for the bitstream,
        unless they were fitted themselves (a rate-aware fit): then they are what is stored."""
        if not self.embeddings_fitted:
            self._embed_all(frames)

    def _embed_all(self, frames: torch.Tensor) -> None:
        was_training = self.training
        self.eval()
        out = []
        for i in range(0, len(frames), 8):
            batch = frames[i:i + 8].permute(0, 3, 1, 2).float().div(255)
            out.append(self.embed(batch.to(self.embeddings.device)))
        self.embeddings.data.copy_(torch.cat(out).transpose(0, 1))
        self.train(was_training)

    def stored_tensors(self) -> dict[str, torch.Tensor]:
        # The embeddings are stored as (d, frames, h0, w0), so quantization steps go per channel.
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}

    def load_stored(self, tensors: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(tensors, strict=False)
        if unexpected or any(not k.startswith("encoder.") for k in missing):
            raise KeyError(f"hnerv: stored tensors do not match (missing {missing}, unexpected {unexpected})")
