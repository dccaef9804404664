"""Feature grids and blocks, HiNeRV's way (Kwan et al., NeurIPS 2023), sized for a CPU.

    frame index -> base grid over time (levels of T_l slices x C_l x h0 x w0, each blended
    linearly between its two nearest slices) -> 3x3 stem -> stages, each:
        upsample x s  (NeRV's conv + pixel shuffle + GELU, or a 1x1 conv + bilinear)
        + local grid  (a learned vector per sub-pixel position of the s x s cell, over time slices:
                       where in the cell a pixel sits, which convolutions cannot tell)
        + blocks      (ConvNeXt-style: depthwise 3x3 -> 1x1 to e x C -> GELU -> 1x1, residual;
                       no LayerNorm: on a CPU it costs as much as a 1x1 layer)
    -> 1x1 head -> sigmoid -> RGB.

Every grid is a stored tensor: the rate-aware quantizer gives it learned steps and a Laplace rate
like any weight. A base grid is stored channels first, (C, T, h0, w0), so that it has a step per
channel and the file codes each time slice as its integer difference from the slice before
(``predicted_tensors``; entropy.PREDICT_AXIS1): neighbouring slices are alike, and the rate
fitting sees is that of the differences. Files before this (no ``grid_layout`` in the config)
stored (T, C, h0, w0) with a step per slice and still decode. The time blend is computed in integers
(coords.time_blend), so a file renders the same frames on any machine. Which shape wins on a
CPU budget was measured, not assumed: ``SHAPES`` names the ones the probe compared
(bench/studies/2026-12-04-grid-probe/).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..bitstream.entropy import can_predict
from .base import INR, require
from .blocks import UpsampleBlock, choose_strides, count_params, largest_width
from .coords import frame_encoding, time_blend

PRESETS = {"xs": 100_000, "s": 300_000, "m": 1_000_000}
UPSAMPLERS = ("shuffle", "bilinear")

#: Shapes compared by the probe. Channels halve from the stem's width c0 (which sizes the model
#: to its parameter budget) down to ``min_channels``; ``depths``: blocks per stage from the
#: lowest resolution (a shorter list leaves the last stages without blocks); ``base``: (time
#: slices per frame of the clip, channels) of each base-grid level; ``local``: (time slices per
#: frame, channels) of every stage's local grid, whose vectors a 1x1 layer takes to the stage's
#: width, as HiNeRV's; None: no local grids.
SHAPES: dict[str, dict[str, Any]] = {
    # HiNeRV as published, scaled to ~100k: two base levels (the second coarser in time and
    # wider), bilinear upsampling, local grids at every stage, blocks 3,3,1 with expansion 4
    "faithful": {"upsample": "bilinear", "depths": [3, 3, 1], "expansion": 4,
                 "base": [(0.15, 2), (0.075, 4)], "local": (0.25, 4)},
    # cheaper HiNeRV: one block at each of the two lowest stages, expansion 2, none at full size
    "cheap": {"upsample": "bilinear", "depths": [1, 1], "expansion": 2,
              "base": [(0.15, 2), (0.075, 4)], "local": (0.25, 4)},
    # NeRV's trunk (conv + pixel shuffle + GELU, channels halving) fed by a base grid instead of
    # NeRV's MLP, plus local grids: parameters where the pixels are, at about NeRV's cost a pixel
    "nerv-grid": {"upsample": "shuffle", "depths": [], "expansion": 2,
                  "base": [(0.25, 8)], "local": (0.25, 4)},
    # the same with one block at the lowest stage
    "nerv-grid-block": {"upsample": "shuffle", "depths": [1], "expansion": 2,
                        "base": [(0.25, 8)], "local": (0.25, 4)},
    # NeRV itself (its MLP from the frame index's encoding to the stem, conv + shuffle stages),
    # with a small base grid beside the MLP and local grids: the grids add what is local in time
    "mlp-grid": {"upsample": "shuffle", "depths": [], "expansion": 2, "mlp": True,
                 "base": [(0.25, 2)], "local": (0.25, 4)},
    # NeRV with local grids only
    "mlp-local": {"upsample": "shuffle", "depths": [], "expansion": 2, "mlp": True,
                  "base": [], "local": (0.25, 4)},
    # NeRV's trunk fed by a base grid alone (no local grids: their broadcast adds and sums over
    # the cells at every stage cost ~35 % of nerv-grid's CPU time): HNeRV's shape with embeddings
    # that are fitted parameters started from the content, instead of an encoder's output
    # a large budget grows the grid to half of it, in time to a slice every 2nd frame where its 8
    # channels allow, then in channels: a fixed grid left the trunk to widen, and it lost 1-3 dB
    # at 0.2-0.4 bpp (bench/studies/2026-12-07-grid-growth/)
    "grid": {"upsample": "shuffle", "depths": [], "expansion": 2, "base": [(0.25, 8)], "local": None,
             "grow": (0.5, 0.5)},
    # the same, finer in time and narrower (a slice every second frame, 4 channels)
    "grid-t2": {"upsample": "shuffle", "depths": [], "expansion": 2, "base": [(0.5, 4)], "local": None},
    # NeRV (its MLP) with a content-started base grid beside it, no local grids
    "mlp-with-grid": {"upsample": "shuffle", "depths": [], "expansion": 2, "mlp": True, "base": [(0.25, 4)],
                 "local": None},
}
#: the MLP stem's positional encoding (NeRV's) and its hidden width over the stem's channels
PE_LEVELS, PE_BASE, MLP_RATIO = 80, 1.25, 2.0
DEFAULT_SHAPE = "grid"
MAX_SLICES = 4096
#: the most of a budget the base grids may hold (the probe's grid shape won on bikes at 72 % and
#: tied on bunny at 39 %, bench/studies/2026-12-04-grid-probe/)
MAX_GRID_SHARE = 0.75
#: the spread (standard deviation per channel) of the base grids' start, random or from the content
GRID_STD = 0.1


#: how the base grids are stored: channels, then time slices (so slices can be predicted)
GRID_LAYOUT = "cthw"
#: rate control's size for files of more than LARGE_FILE_BITS (the default quality's file on the
#: ladder, encoder.BITS_AT_DEFAULT_QUALITY): LARGE_FILE_SCALE times the ladder's (NeRV's) size. Measured
#: side by side at 2 minutes a point (bench/studies/2026-12-07-hinerv-size/): 1.6x won 0.6-1.6 dB
#: above ~400k bits on every clip and lost 0.6-1.1 dB below it on carphone; 0.6x lost everywhere
LARGE_FILE_BITS = 394_000
LARGE_FILE_SCALE = 1.6


def blend(grid: torch.Tensor, lo: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """grid (T, ...) at the frames' positions: (1 - w) * grid[lo] + w * grid[lo + 1], (B, ...)."""
    hi = (lo + 1).clamp_max(grid.shape[0] - 1)
    shape = (-1,) + (1,) * (grid.dim() - 1)
    return torch.lerp(grid[lo], grid[hi], w.view(shape))


def add_to_every_cell(x: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) plus cell (B, C, s, s) tiled over its H/s x W/s cells. In channels_last
    memory (fitting) by broadcasting over a view, without a tiled copy; otherwise by tiling."""
    n, c, h, w = x.shape
    s = cell.shape[-1]
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        rows = x.permute(0, 2, 3, 1).view(n, h // s, s, w // s, s, c)
        out = rows + cell.permute(0, 2, 3, 1)[:, None, :, None, :, :]
        return out.view(n, h, w, c).permute(0, 3, 1, 2)
    return x + cell.repeat(1, 1, h // s, w // s)


class Block(nn.Module):
    """Depthwise 3x3 -> 1x1 to ``expansion`` x C -> GELU -> 1x1 back, added to its input."""

    def __init__(self, channels: int, expansion: int):
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.expand = nn.Conv2d(channels, expansion * channels, 1)
        self.project = nn.Conv2d(expansion * channels, channels, 1)
        with torch.no_grad():  # start near the identity, as ConvNeXt's layer scale does
            self.project.weight.mul_(0.1)
            self.project.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(F.gelu(self.expand(self.dw(x))))


class GridStage(nn.Module):
    """Upsample by ``stride`` to ``c_out`` channels, add the local grid, run the blocks."""

    def __init__(self, c_in: int, c_out: int, stride: int, depth: int, expansion: int, upsample: str,
                 local: Optional[list[int]]):
        super().__init__()
        self.stride, self.upsample = stride, upsample
        if upsample == "shuffle":
            self.up = UpsampleBlock(c_in, c_out, stride)
        else:
            self.up = nn.Conv2d(c_in, c_out, 1)
        self.local, self.local_proj = None, None
        if local:  # (slices, channels) x the s x s cell, taken to c_out channels by a 1x1 layer
            self.local = nn.Parameter(0.1 * torch.randn(local[0], local[1], stride, stride))
            self.local_proj = nn.Conv2d(local[1], c_out, 1)
            nn.init.zeros_(self.local_proj.weight)
            nn.init.zeros_(self.local_proj.bias)
        self.blocks = nn.ModuleList(Block(c_out, expansion) for _ in range(depth))

    def forward(self, x: torch.Tensor, lo: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample == "shuffle":
            x = self.up(x)
        else:  # the 1x1 at the low resolution (cheaper), then bilinear
            x = F.interpolate(self.up(x), scale_factor=self.stride, mode="bilinear", align_corners=False)
        if self.local is not None:
            x = add_to_every_cell(x, self.local_proj(blend(self.local, lo, w)))
        for block in self.blocks:
            x = block(x)
        return x


class HiNeRV(INR):
    name = "hinerv"
    presets = PRESETS

    def __init__(self, config: dict[str, Any], decoder_only: bool = False):
        super().__init__(config, decoder_only)
        c = config
        h0, w0 = c["base_size"]
        channels, strides = c["channels"], c["strides"]
        depths = list(c["depths"]) + [0] * (len(strides) - len(c["depths"]))
        #: base grids stored (C, T, h0, w0) (else, in files before it, (T, C, h0, w0))
        self.channels_first = c.get("grid_layout") == GRID_LAYOUT
        self.grids = nn.ParameterList(
            nn.Parameter(0.1 * torch.randn(*((ch, t) if self.channels_first else (t, ch)), h0, w0))
            for t, ch in c["base_grid"])
        self.mlp = None
        if "mlp" in c:  # NeRV's: encoding of the frame index -> hidden -> channels x h0 x w0
            hidden, ch = c["mlp"]
            self.mlp = nn.Sequential(nn.Linear(2 * PE_LEVELS, hidden), nn.GELU(), nn.Linear(hidden, ch * h0 * w0),
                                     nn.GELU())
        stem_in = sum(ch for _, ch in c["base_grid"]) + (c["mlp"][1] if "mlp" in c else 0)
        self.stem = nn.Conv2d(stem_in, channels[0], 3, padding=1)
        self.stages = nn.ModuleList(
            GridStage(channels[i], channels[i + 1], s, depths[i], c["expansion"], c["upsample"], c.get("local"))
            for i, s in enumerate(strides))
        self.head = nn.Conv2d(channels[-1], 3, 1)

    @classmethod
    def size_for_rate(cls, bpp: float, bits: float, ladder: int) -> Optional[int]:
        """Larger than NeRV's ladder for large files: half of a large budget goes to the grid
        (``grow``), which costs no time a pixel, so a larger network keeps its epochs."""
        return int(LARGE_FILE_SCALE * ladder) if bits > LARGE_FILE_BITS else None

    @classmethod
    def configure(cls, width: int, height: int, frames: int, params: Optional[int] = None,
                  shape: str = DEFAULT_SHAPE, min_channels: int = 8, **options: Any) -> dict[str, Any]:
        """``shape``: one of SHAPES (its entries can be overridden one by one as options:
        upsample, depths, expansion, base, local, grow). ``grow``: (slices a frame, share[,
        narrowest]): where the base grid would hold less than ``share`` of the parameters, it grows
        to that share, first in time (up to that many slices a frame, fewer where its channels
        would shrink below ``narrowest`` (default 1) times the shape's), then in channels."""
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
        spec = {**SHAPES[shape]}
        unknown = set(options) - set(spec) - {"mlp", "grow"}
        if unknown:
            raise TypeError(f"hinerv: unknown options {sorted(unknown)}")
        spec.update(options)
        strides, (h0, w0) = choose_strides(height, width)
        params = params or PRESETS["xs"]

        def slices(per_frame: float) -> int:
            return min(MAX_SLICES, frames, max(2, round(frames * per_frame)))

        def config_for(c0: int, grid_scale: float = 1.0, levels: Optional[list] = None) -> dict[str, Any]:
            channels = [c0, c0]
            for _ in strides[1:]:
                channels.append(max(channels[-1] // 2, min(min_channels, c0)))
            base = [[slices(t), max(1, round(ch * grid_scale))] for t, ch in (levels or spec["base"])]
            mlp = {"mlp": [max(16, round(MLP_RATIO * c0)), c0]} if spec.get("mlp") else {}
            return {**mlp, "frames": frames, "out_size": [h0 * math.prod(strides), w0 * math.prod(strides)],
                    "base_size": [h0, w0], "strides": strides, "channels": channels, "base_grid": base,
                    "depths": list(spec["depths"])[:len(strides)], "expansion": int(spec["expansion"]),
                    "upsample": spec["upsample"], **({"grid_layout": GRID_LAYOUT} if base else {}),
                    **({"local": [slices(spec["local"][0]), int(spec["local"][1])]} if spec["local"] else {})}

        def fits(c0: int, grid_scale: float, levels: Optional[list] = None) -> bool:
            return count_params(lambda: cls(config_for(c0, grid_scale, levels))) <= params

        def grid_values(grid_scale: float, levels: Optional[list] = None) -> int:
            return sum(t * ch * h0 * w0 for t, ch in config_for(2, grid_scale, levels)["base_grid"])

        # the base grids shrink (their channels by halves) until they hold at most MAX_GRID_SHARE
        # of the budget and the narrowest model fits: else a short clip's budget went to the grid
        # and left the convolutions 3 channels wide (carphone at 0.05 bpp: 95 % in the grid)
        grid_scale = 1.0
        while grid_scale > 1 / 64 and (not fits(2, grid_scale) or grid_values(grid_scale) > MAX_GRID_SHARE * params):
            grid_scale /= 2
        levels = None
        grow = spec.get("grow")
        if grow and grid_scale == 1.0 and spec["base"] and grid_values(1.0) < grow[1] * params:
            # a large budget: the grid grows to hold grow[1] of it, so that the trunk stays narrow
            # and gets its epochs: in time first (up to grow[0] slices a frame, halving that while
            # the levels would be left narrower than grow[2] of their channels), then in channels
            t_max, share, narrowest = grow[0], grow[1], grow[2] if len(grow) > 2 else 1.0
            while True:
                levels = [(max(t, t_max), ch) for t, ch in spec["base"]]
                grid_scale = share * params / grid_values(1.0, levels)
                if grid_scale >= narrowest or all(t >= t_max for t, _ in spec["base"]):
                    break
                t_max /= 2
            if not fits(2, grid_scale, levels):
                levels, grid_scale = None, 1.0
        c0 = largest_width(lambda c: fits(c, grid_scale, levels), 2, 2048)
        return config_for(c0, grid_scale, levels)

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        extra = set(config) - {"frames", "out_size", "base_size", "strides", "channels", "base_grid", "depths",
                               "expansion", "upsample", "local", "mlp", "grid_layout"}
        if extra:
            raise ValueError(f"unknown config keys {sorted(extra)}")
        if config.get("grid_layout", GRID_LAYOUT) != GRID_LAYOUT:
            raise ValueError(f"config 'grid_layout' must be {GRID_LAYOUT!r} (or absent: slices first)")
        require(config, "frames", int, 1, 10**6)
        strides = require(config, "strides", int, 1, 8, (1, 8))
        require(config, "channels", int, 1, 1024, (len(strides) + 1, len(strides) + 1))
        h0, w0 = require(config, "base_size", int, 1, 1024, (2, 2))
        out = require(config, "out_size", int, 1, 65536, (2, 2))
        if out != [h0 * math.prod(strides), w0 * math.prod(strides)]:
            raise ValueError("config 'out_size' does not match base_size times the strides")
        require(config, "depths", int, 0, 8, (0, len(strides)))
        require(config, "expansion", int, 1, 8)
        if "local" in config:
            t, ch = require(config, "local", int, 1, MAX_SLICES, (2, 2))
            if ch > 64:
                raise ValueError("config 'local' channels must be at most 64")
        if config.get("upsample") not in UPSAMPLERS:
            raise ValueError(f"config 'upsample' must be one of {', '.join(UPSAMPLERS)}")
        levels = config.get("base_grid")
        if "mlp" in config:
            require(config, "mlp", int, 1, 4096, (2, 2))
            if config["mlp"][1] * h0 * w0 > 1 << 22:
                raise ValueError("config 'mlp' renders more than 2^22 stem values")
        if not isinstance(levels, list) or not ("mlp" in config or levels) or len(levels) > 4:
            raise ValueError("config 'base_grid' must be a list of 1 to 4 [slices, channels] levels "
                             "(or none beside an mlp)")
        for level in levels:
            if (not isinstance(level, list) or len(level) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in level)):
                raise ValueError("config 'base_grid' levels must be [slices, channels] integers")
            if not 1 <= level[0] <= MAX_SLICES or not 1 <= level[1] <= 1024:
                raise ValueError(f"config 'base_grid' level {level} is outside 1..{MAX_SLICES} slices, 1..1024 channels")
            if level[0] * level[1] * h0 * w0 > 1 << 26:
                raise ValueError(f"config 'base_grid' level {level} holds more than 2^26 values")

    #: start the base grids from the frames (initialize) rather than from noise, at this spread
    content_init: bool = True
    grid_std: float = GRID_STD
    #: the grids' learning rate over the rest's (a grid value sees only the frames near its slice)
    grid_lr_scale: float = 1.0

    def slices_first(self, grid: torch.Tensor) -> torch.Tensor:
        """A base grid as (T, C, h0, w0), however it is stored (a view)."""
        return grid.transpose(0, 1) if self.channels_first else grid

    def predicted_tensors(self) -> frozenset[str]:
        """The base grids, when stored channels first: each slice coded as its difference from
        the slice before."""
        if not self.channels_first:
            return frozenset()
        return frozenset(f"grids.{i}" for i, grid in enumerate(self.grids) if can_predict(grid.shape))  # 2+ slices

    def grid_parameters(self) -> list[nn.Parameter]:
        """The base grids and the local grids."""
        return [p for n, p in self.named_parameters() if n.startswith("grids.") or n.endswith(".local")]

    def param_groups(self) -> list[dict[str, Any]]:
        grids = self.grid_parameters()
        if self.grid_lr_scale == 1.0 or not grids:
            return super().param_groups()
        ids = {id(p) for p in grids}
        rest = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": rest, "lr_scale": 1.0}, {"params": grids, "lr_scale": self.grid_lr_scale}]

    @torch.no_grad()
    def initialize(self, frames: torch.Tensor) -> None:
        """Each base-grid level starts from the content: its slice k from the frame at the slice's
        time, area-averaged to r x r values a base cell (r the least with 3 r^2 >= its channels),
        projected on the level's principal components over all its cells and slices, each scaled
        to GRID_STD. The stem then sees from the first step where things are, as HNeRV's encoder
        gives it; fitting refines the grid like any parameter."""
        if not self.content_init:
            return
        h0, w0 = self.config["base_size"]
        height, width = self.out_size
        for stored in self.grids:
            grid = self.slices_first(stored)
            slices, channels = grid.shape[0], grid.shape[1]
            r = math.ceil(math.sqrt(channels / 3))
            # slice k sits at frame k (T - 1) / (slices - 1), as coords.time_blend places it
            picked = [min(round(k * (self.config["frames"] - 1) / max(slices - 1, 1)), len(frames) - 1)
                      for k in range(slices)]
            cells = []
            for i in picked:
                frame = torch.as_tensor(frames[i]).to(grid.device).permute(2, 0, 1).float().div(255)[None]
                pad_h, pad_w = height - frame.shape[2], width - frame.shape[3]
                if pad_h or pad_w:  # replicate the edges up to the rendered size, as fitting does
                    frame = F.pad(frame, (0, max(pad_w, 0), 0, max(pad_h, 0)), mode="replicate")
                small = F.adaptive_avg_pool2d(frame[:, :, :height, :width], (h0 * r, w0 * r))
                cells.append(F.pixel_unshuffle(small, r)[0])  # (3 r^2, h0, w0)
            x = torch.stack(cells)  # (slices, 3 r^2, h0, w0)
            rows = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1]).double()
            rows = rows - rows.mean(0)
            _, _, vh = torch.linalg.svd(rows, full_matrices=False)
            scores = rows @ vh[:channels].T  # (slices h0 w0, channels), fewer where there are fewer components
            scores = scores / scores.std(0).clamp_min(1e-6) * self.grid_std
            scores = F.pad(scores, (0, channels - scores.shape[1]))  # a tiny clip's missing ones start at 0
            grid.copy_(scores.float().view(slices, h0, w0, channels).permute(0, 3, 1, 2))

    def forward(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        c = self.config
        base = []
        if self.mlp is not None:
            h0, w0 = c["base_size"]
            code = frame_encoding(index, c["frames"], PE_LEVELS, PE_BASE) if index.device.type != "meta" else \
                torch.empty(len(index), 2 * PE_LEVELS, device="meta")
            base.append(self.mlp(code).view(len(index), c["mlp"][1], h0, w0))
        for stored in self.grids:
            grid = self.slices_first(stored)
            lo, w = time_blend(index, c["frames"], grid.shape[0])
            base.append(blend(grid, lo, w))
        x = self.stem(torch.cat(base, 1) if len(base) > 1 else base[0])
        lo, w = time_blend(index, c["frames"], c["local"][0] if "local" in c else 1)
        for stage in self.stages:
            x = stage(x, lo, w)
        return torch.sigmoid(self.head(x))
