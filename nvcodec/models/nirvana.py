"""NIRVANA (Maiya et al., CVPR 2023): the video cut into groups of frames, each rendered by its
own small network from patch coordinates; each group's network starts from the previous group's
and is stored as the (quantized) difference to it.

One group's network: the Fourier features of a patch's position -> MLP -> a small feature block
per patch, laid side by side into a half-resolution feature map -> a per-frame scale and shift
(the frame's place in its group) -> Conv3x3 -> PixelShuffle(2) -> GELU -> Conv3x3 -> RGB. The
convolutions run over the whole map, so patches share their edges.

Stored tensors: per group, one flat tensor per layer (weight and bias together), so that a group
costs five steps and five entropy models of side information. A key group stores its weights;
the others store the residual to the previous group's (``weights(g)`` sums the chain from the
key). Keys are group 0 and, when an encode is spread over processes, the first group of each
process's part; ``key_every`` adds more (shorter chains for random access, at the cost of bits).
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import INR, Stage, require
from .blocks import count_params, largest_width
from .coords import fourier_features

LAYERS = ("mlp1", "mlp2", "frame", "conv1", "conv2")
#: one group's network, in parameters (the key group's size; residuals cost far fewer bits)
PRESETS = {"xs": 12_000, "s": 24_000, "m": 48_000}
DEFAULT_GROUP_SIZE = 3
BPP_AT_24K = 0.17  # where a 24k network lands at --quality 24 (bikes, carphone): rate control's anchor
MAX_GROUPS = 800  # five tensors each, within the bitstream's 4096
#: a key group's share of the time budget, in units of a residual group's (it starts from scratch)
KEY_SHARE = 4.0


class NIRVANA(INR):
    name = "nirvana"
    presets = PRESETS
    #: without a size or a target: 12k, not 24k. At --quality 24 and 2 minutes, 12k against 24k
    #: (bench/studies/2026-11-26-nirvana-design/nirvana_design.py, one run each, bench/studies/2026-11-26-nirvana-design/<clip>/nirvana-design.json): bikes
    #: 25.23 dB at 0.146 bpp against 25.21 at 0.192, carphone 27.67 at 0.118 against 27.55 at
    #: 0.149, bunny 25.12 at 0.085 against 25.73 at 0.107 (about on its curve)
    default_params = PRESETS["xs"]
    splits_over_processes = True
    follows_scene_cuts = True
    #: a group's small network, fitted in a few dozen steps, learns fastest at a high rate: group 0
    #: of bikes (320x136) in 5 s, quality 24 (bench/studies/2026-11-26-nirvana-design/nirvana_lr.py, bench/studies/2026-11-26-nirvana-design/bikes/nirvana-lr.json):
    #: 27.6 dB at 5e-3, 29.8 at 1.5e-2, 30.8 at 3e-2 (and the fewest bits), 29.3 at 5e-2
    learning_rate = 3e-2

    def __init__(self, config: dict[str, Any], decoder_only: bool = False):
        super().__init__(config, decoder_only)
        #: the first frame of each group
        self.starts = group_starts(config["frames"], config["group_size"], config.get("cuts", []))
        for g in range(self.num_groups):
            for layer in LAYERS:
                self.register_parameter(f"g{g}_{layer}", nn.Parameter(torch.zeros(1, self.layer_size(layer))))
        #: keep each layer's last chain sum while rendering without gradients (layer_weights): on
        #: for the decoder's model, whose weights only load_stored sets; off for a model being fitted
        self.cache_chains = decoder_only
        self._chain_sums: dict[str, tuple[int, int, torch.Tensor]] = {}
        self.reset_parameters()

    @classmethod
    def size_for_rate(cls, bpp: float, bits: float, ladder: int) -> int:
        """A group's network for a target rate: 24k where --quality 24 lands with it (0.187 bpp on
        bikes, 0.163 on carphone, bench/studies/2026-11-26-nirvana-checks/nirvana-checks-24k.json), growing as the rate
        to the power 0.75 (the NeRV ladder's exponent), 2k to 48k. Too large a network for a low
        target leaves its key group no bits but zeros."""
        return int(min(max(PRESETS["s"] * (bpp / BPP_AT_24K) ** 0.75, 2_000), PRESETS["m"]))

    # ---------------------------------------------------------------- sizes
    @property
    def num_groups(self) -> int:
        return len(self.starts)

    def shapes(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """Each layer's (weight shape, bias length)."""
        c = self.config
        q = c["patch"] // 2
        return {"mlp1": ((c["hidden"], 4 * c["pe_levels"]), c["hidden"]),
                "mlp2": ((c["channels"] * q * q, c["hidden"]), c["channels"] * q * q),
                "frame": ((c["group_size"], 2 * c["channels"]), 0),
                "conv1": ((4 * c["mid"], c["channels"], 3, 3), 4 * c["mid"]),
                "conv2": ((3, c["mid"], 3, 3), 3)}

    def layer_size(self, layer: str) -> int:
        shape, bias = self.shapes()[layer]
        return math.prod(shape) + bias

    @classmethod
    def render_stride(cls, config: dict[str, Any]) -> int:
        return config["patch"]

    @classmethod
    def configure(cls, width: int, height: int, frames: int, params: Optional[int] = None,
                  group_size: int = DEFAULT_GROUP_SIZE, patch: int = 8, processes: int = 1, key_every: int = 0,
                  cuts: Sequence[int] = (), **options: Any) -> dict[str, Any]:
        """``params``: one group's network; ``processes``: the encode's parts (each starts with a
        key group); ``key_every``: a key group every that many groups as well (0: none);
        ``cuts``: frames where a new shot starts: groups restart there, with a key group."""
        if options:
            raise TypeError(f"nirvana: unknown options {sorted(options)}")
        if not 1 <= group_size <= frames:
            raise ValueError(f"group size {group_size}: choose 1 to the video's {frames} frames")
        cuts = sorted({int(c) for c in cuts if 0 < c < frames})
        starts = group_starts(frames, group_size, cuts)
        groups = len(starts)
        if groups > MAX_GROUPS:
            raise ValueError(f"{groups} groups of frames, more than {MAX_GROUPS}: give a larger group size")
        if not 1 <= processes <= groups:
            raise ValueError(f"{processes} processes for {groups} groups of frames: use at most {groups} "
                             "processes (or a smaller group size)")
        keys = sorted({round(i * groups / processes) for i in range(processes)}
                      | {starts.index(c) for c in cuts}
                      | (set(range(0, groups, key_every)) if key_every > 0 else set()))
        ny, nx = -(-height // patch), -(-width // patch)
        levels = max(1, math.ceil(math.log2(max(nx, ny))) + 1)  # the finest wave resolves neighbouring patches

        def config_for(hidden: int) -> dict[str, Any]:
            channels = max(4, hidden // 4)
            return {"frames": frames, "out_size": [ny * patch, nx * patch], "group_size": group_size,
                    "patch": patch, "pe_levels": levels, "hidden": hidden, "channels": channels,
                    "mid": max(4, channels // 2), "keys": keys, **({"cuts": cuts} if cuts else {}), "exact_pe": 1}

        def one_group(hidden: int) -> dict[str, Any]:  # what --params counts: one group's network
            return {k: v for k, v in config_for(hidden).items() if k != "cuts"} | {"frames": group_size, "keys": [0]}

        params = params or cls.default_params
        hidden = largest_width(lambda h: count_params(lambda: cls(one_group(h))) <= params, 8, 1024)
        return config_for(hidden)

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        extra = set(config) - {"frames", "out_size", "group_size", "patch", "pe_levels", "hidden", "channels",
                               "mid", "keys", "cuts", "exact_pe"}
        if extra:
            raise ValueError(f"unknown config keys {sorted(extra)}")
        frames = require(config, "frames", int, 1, 10**6)
        size = require(config, "group_size", int, 1, frames)
        patch = require(config, "patch", int, 2, 64)
        if patch % 2:
            raise ValueError("config 'patch' must be even")
        out = require(config, "out_size", int, 1, 65536, (2, 2))
        if out[0] % patch or out[1] % patch:
            raise ValueError("config 'out_size' is not a multiple of the patch")
        require(config, "pe_levels", int, 1, 16)
        if "exact_pe" in config:
            require(config, "exact_pe", int, 0, 1)
        require(config, "hidden", int, 1, 4096)
        require(config, "channels", int, 1, 1024)
        require(config, "mid", int, 1, 1024)
        if "cuts" in config:
            cuts = require(config, "cuts", int, 1, frames - 1, (1, frames))
            if any(b <= a for a, b in zip(cuts, cuts[1:])):
                raise ValueError("config 'cuts' must increase")
        groups = len(group_starts(frames, size, config.get("cuts", [])))
        if groups > MAX_GROUPS:
            raise ValueError(f"{groups} groups (at most {MAX_GROUPS})")
        keys = require(config, "keys", int, 0, groups - 1, (1, groups))
        if keys[0] != 0 or any(b <= a for a, b in zip(keys, keys[1:])):
            raise ValueError("config 'keys' must start at group 0 and increase")

    # ---------------------------------------------------------------- groups
    def group_of(self, frame: int) -> int:
        return bisect.bisect_right(self.starts, frame) - 1

    def group_frames(self, g: int) -> list[int]:
        starts = self.starts
        return list(range(starts[g], starts[g + 1] if g + 1 < len(starts) else self.config["frames"]))

    def key_of(self, g: int) -> int:
        keys = self.config["keys"]  # increasing, from 0 (check_config)
        return keys[bisect.bisect_right(keys, g) - 1]

    def names(self, g: int) -> list[str]:
        return [f"g{g}_{layer}" for layer in LAYERS]

    def chunks(self) -> list[list[str]]:
        return [self.names(g) for g in range(self.num_groups)]

    def chunks_for_frames(self, frames: list[int]) -> list[int]:
        needed: set[int] = set()
        for g in {self.group_of(f) for f in frames}:
            needed.update(range(self.key_of(g), g + 1))
        return sorted(needed)

    def training_plan(self) -> list[Stage]:
        keys = self.config["keys"]
        return [Stage(self.group_frames(g), self.names(g), KEY_SHARE if g in keys else 1.0,
                      part=sum(k <= g for k in keys) - 1, quantized_from_start=g not in keys,
                      steps_from=None if g in keys else g - 1, batch=self.config["group_size"])
                for g in range(self.num_groups)]

    @torch.no_grad()
    def begin_stage(self, index: int, first: bool) -> None:
        """A key group after a fitted one starts from that group's weights (NIRVANA's warm start),
        unless a new shot starts there: then from its own fresh initialisation (bikes, 320x136,
        2 minutes, bench/studies/2026-11-26-nirvana-design/nirvana_design.py: 25.21 dB at 0.192 bpp, against 23.66 dB at 0.172
        warm-started). A residual
        starts at zero, which is the previous group's weights."""
        if self.starts[index] in self.config.get("cuts", []):
            return
        if index in self.config["keys"] and index > 0 and not first:
            for layer in LAYERS:
                getattr(self, f"g{index}_{layer}").copy_(self.layer_weights(index - 1, layer))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Key groups: PyTorch's default initialisation of the layers; residuals: zero."""
        if self.decoder_only:
            return
        for g in range(self.num_groups):
            for layer in LAYERS:
                p = getattr(self, f"g{g}_{layer}")
                p.zero_()
                if g in self.config["keys"]:
                    p.copy_(self._initial(layer).view_as(p))

    def _initial(self, layer: str) -> torch.Tensor:
        shape, bias = self.shapes()[layer]
        if layer == "frame":  # scale 0 (x1) and a shift that tells the group's frames apart
            g, c2 = shape
            t = torch.arange(g, dtype=torch.float32)[:, None] + 1
            c = torch.arange(c2 // 2, dtype=torch.float32)[None, :] + 1
            return torch.cat([torch.zeros(g, c2 // 2), 0.5 * torch.sin(math.pi * t * c / (g + 1))], 1).reshape(-1)
        module = nn.Linear(shape[1], shape[0]) if len(shape) == 2 else nn.Conv2d(shape[1], shape[0], 3, padding=1)
        return torch.cat([module.weight.detach().reshape(-1), module.bias.detach().reshape(-1)])

    def layer_weights(self, g: int, layer: str) -> torch.Tensor:
        """Group ``g``'s flat layer: the sum of the chain from its key group, in order,
        ((key + r1) + r2) + ... (float addition is not associative: the order is the format's).

        Rendering without gradients in a model with ``cache_chains`` (the decoder's), each layer's
        last sum is kept: the next group of the same chain adds its one residual to it, the same
        group reuses it, so a decode walking the groups in order costs one addition a group, not
        a chain's length a frame. The sums are the same floats either way. A fit (gradients on,
        and ``cache_chains`` off) sums the whole chain every time, its graph through each residual."""
        key = self.key_of(g)
        w, start = getattr(self, f"g{key}_{layer}"), key
        cache = self.cache_chains and not torch.is_grad_enabled()
        if cache:
            hit = self._chain_sums.get(layer)
            if (hit is not None and hit[0] == key and key <= hit[1] <= g and hit[2].device == w.device
                    and hit[2].dtype == w.dtype):
                start, w = hit[1], hit[2]
        for j in range(start + 1, g + 1):
            w = w + getattr(self, f"g{j}_{layer}")
        if cache:
            self._chain_sums[layer] = (key, g, w)
        return w

    def load_state_dict(self, *args: Any, **kwargs: Any):
        """Loading weights (load_stored does) drops the chain sums kept from the old ones."""
        self._chain_sums = {}
        return super().load_state_dict(*args, **kwargs)

    def _split(self, g: int, layer: str) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        shape, bias = self.shapes()[layer]
        flat = self.layer_weights(g, layer).reshape(-1)
        n = math.prod(shape)
        return flat[:n].view(shape), (flat[n:] if bias else None)

    def frame_elements(self) -> tuple[int, int]:
        """Closed form: the widest step is the first convolution (its input at half resolution
        and its output, 4 * mid channels) or the pixel-shuffled map and the second's output."""
        c = self.config
        h, w = c["out_size"]
        half = (h // 2) * (w // 2)
        widest = max(c["channels"] * half + 4 * c["mid"] * half, 2 * c["mid"] * h * w + 3 * h * w,
                     c["channels"] * c["patch"] ** 2 // 4 * (h // c["patch"]) * (w // c["patch"]) * 2)
        return widest, 3 * h * w

    # ---------------------------------------------------------------- rendering
    def patch_features(self, device: torch.device) -> torch.Tensor:
        """Fourier features of every patch's centre, row by row: (patches, 4 * pe_levels). Made
        on the CPU (some of these operations on the meta device load torch's compiler, seconds);
        reduced exactly (coords.py) in files with ``exact_pe``, as they were encoded in older ones."""
        c = self.config
        ny, nx = c["out_size"][0] // c["patch"], c["out_size"][1] // c["patch"]
        if c.get("exact_pe", 0):  # centres (2i + 1) / 2n, frequencies 2^k: [sin y, sin x, cos y, cos x]
            fy = fourier_features(range(1, 2 * ny, 2), 2 * ny, 2.0, c["pe_levels"])
            fx = fourier_features(range(1, 2 * nx, 2), 2 * nx, 2.0, c["pe_levels"])
            levels = c["pe_levels"]
            fy = fy[:, None, :].expand(ny, nx, 2 * levels)
            fx = fx[None, :, :].expand(ny, nx, 2 * levels)
            features = torch.cat([fy[..., :levels], fx[..., :levels], fy[..., levels:], fx[..., levels:]], -1)
            return features.reshape(ny * nx, 4 * levels).to(device)
        y = (torch.arange(ny, dtype=torch.float32) + 0.5) / ny
        x = (torch.arange(nx, dtype=torch.float32) + 0.5) / nx
        yy, xx = torch.meshgrid(y, x, indexing="ij")
        freqs = math.pi * 2.0 ** torch.arange(c["pe_levels"], dtype=torch.float32)
        angles = torch.cat([yy.reshape(-1, 1) * freqs, xx.reshape(-1, 1) * freqs], 1)
        return torch.cat([torch.sin(angles), torch.cos(angles)], 1).to(device)

    def render_group(self, g: int, positions: torch.Tensor) -> torch.Tensor:
        """Frames at ``positions`` (within group ``g``) -> (B, 3, H, W)."""
        c = self.config
        q, ch = c["patch"] // 2, c["channels"]
        ny, nx = c["out_size"][0] // c["patch"], c["out_size"][1] // c["patch"]
        w1, b1 = self._split(g, "mlp1")
        w2, b2 = self._split(g, "mlp2")
        h = F.gelu(F.linear(self.patch_features(w1.device), w1, b1))
        f = F.gelu(F.linear(h, w2, b2))  # (patches, C * q * q)
        f = f.view(ny, nx, ch, q, q).permute(2, 0, 3, 1, 4).reshape(1, ch, ny * q, nx * q)
        mod, _ = self._split(g, "frame")
        scale, shift = mod[positions].view(-1, 2, ch, 1, 1).unbind(1)
        x = f * (1 + scale) + shift
        wc1, bc1 = self._split(g, "conv1")
        wc2, bc2 = self._split(g, "conv2")
        x = F.gelu(F.pixel_shuffle(F.conv2d(x, wc1, bc1, padding=1), 2))
        return torch.sigmoid(F.conv2d(x, wc2, bc2, padding=1))

    def forward(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        if index.device.type == "meta":  # shapes only (the decoder's memory estimate): any group will do
            return self.render_group(0, torch.zeros_like(index))
        starts = self.starts
        groups = torch.tensor([self.group_of(int(i)) for i in index.tolist()], device=index.device)
        out = None
        for g in groups.unique().tolist():
            where = (groups == g).nonzero().view(-1)
            part = self.render_group(g, index[where] - starts[g])
            if out is None:
                if len(where) == len(index):
                    return part
                out = part.new_empty(len(index), *part.shape[1:])
            out[where] = part
        return out


def group_starts(frames: int, size: int, cuts: Sequence[int]) -> list[int]:
    """The first frame of each group: every ``size`` frames from 0 and from each cut."""
    bounds = [0, *cuts, frames]
    return [s for a, b in zip(bounds, bounds[1:]) for s in range(a, b, size)]
