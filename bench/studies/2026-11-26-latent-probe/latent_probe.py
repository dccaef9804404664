"""A C3 / Cool-chic style latent-grid video codec, fitted on the CPU for a wall-time budget (issue 14's probe).

    python bench/studies/2026-11-26-latent-probe/latent_probe.py --clip bunny --budget 120 [--lambdas 2e-2,5e-2,1.5e-1,5e-1]
                                 [--frames A:B] [--time-stride S] [--threads N] [--device D]
                                 [--output PATH] [--quiet]

A standalone probe, not a model of the package: what does a latent-grid codec reach in the CPU
seconds NeRV gets? Bytes are real (constriction's range coder, decoded back and checked), frames
are rendered from what a decoder would hold and scored by `rd.score` as every curve is. Output
(default bench/studies/2026-11-26-latent-probe/<clip>/latent-probe-<budget>s.json, `-tsS` added with a --time-stride other
than the default, `-framesA-B` with --frames) in CompressAI's shape, a point per lambda, sorted by
bpp; the file is rewritten after each point, and re-running a lambda with the same setup replaces
its point. `--iterations N` fits N steps instead of the wall time (for tuning on a loaded
machine); `--device cuda` fits on a GPU (coding and scoring stay on the CPU). The results and the
decision are in the README ("Latent grids"); bench/studies/2026-11-26-latent-probe/latent_decision.py compares with NeRV.

The model
- Latents: C3's 3-D grids, K = 7 levels, level k: (G, ceil(H/2^k), ceil(W/2^k)), one channel,
  zeros at the start, with G = ceil((T-1)/S) + 1 slices in time for a time stride S
  (`--time-stride`, default 8). Slice i sits at frame S*i (the last one at or past frame T-1);
  frame t is rendered from slices i = t // S and i+1 (clamped to the last slice) blended linearly
  with weight (t % S) / S, so a frame on the grid uses its slice alone. The blend is done on the
  low-resolution slices before the spatial up-sampling (the same result: both are linear), which
  makes it C3's trilinear interpolation in time.
  Why a stride: with S = 1 (a 2-D pyramid per frame) a 120 s CPU fit moved each latent about 13
  times, far from converged; with S > 1 there are S times fewer latents (and bits), each fitted
  to the 2S - 1 frames around it with a gradient pooled over them. Measured on bunny, 120 s,
  lambda 0.15, one run each (bench/studies/2026-11-26-latent-probe/bunny/probe-design/): S = 1: 17.93 dB at 0.0346 bpp;
  S = 4: 23.23 dB at 0.0565; S = 8: 23.55 dB at 0.0396 (the default); S = 16: 18.63 dB at 0.0511
  (steps of 16 frames are slow: 7 passes in 120 s).
- Synthesis: the K slices up-sampled bilinearly to full size and stacked, 1x1 conv K->F, GELU,
  1x1 F->F, GELU, 1x1 F->3, plus a residual 3x3 3->3 conv and 0.5 (clamped to [0, 1] when
  rendering). F = 24. (A 3x3 F->3 head, Cool-chic's shape, was a third of a step on the CPU.)
- Context model, one for all levels (plus a learned bias per level on its hidden layer): an MLP
  on the 12 raster-causal neighbours in a 5x5 window of the same slice and the 3x3 window around
  the co-located value in the previous grid slice of the same level (zeros beyond the borders
  and before slice 0): 21 -> C, GELU, C -> C, GELU, C -> 2 = Laplace mean and scale (0.01 +
  softplus). C = 16. The neighbours are gathered by shifted views and the layers run as 1x1
  convs, so training evaluates every latent in parallel; on integer latents this is exactly what
  a raster-order decoder computes, because the model reads only values decoded before.
- Multiplications per pixel (decoder, `macs_per_pixel`): up-sampling 4 * 6 = 24; the temporal
  blend 2 per level (counted at full size); synthesis 7*24 + 24*24 + 24*3 + 81 = 897; context
  21*16 + 16*16 + 16*2 = 624 per latent, 4/(3S) latents per pixel. About 1,040 at S = 8 (1,750
  at S = 1).
- Rate: -log2 P(q), P(q) = CDF(q + 1/2) - CDF(q - 1/2) of the Laplace, at least 1e-9.
  Loss = MSE (RGB in [0, 1]) + lambda * latent bits / pixels; the network weights are not in the
  rate term (coded at 8 bits after fitting with nvcodec's quantize_tensors and pack_tensors).
- Quantization while fitting (progress p = elapsed / budget): p < 0.1 additive uniform noise;
  then soft rounding (Agustsson & Theis) with the temperature annealed 0.3 -> 0.1, the rate on
  s(y) + u, synthesis and context on s(s(y) + u); the last 10 % hard rounding with a
  straight-through gradient. Adam with cosine decay over the budget, lr 1e-2 for the networks
  (Cool-chic's) and 0.2 for the latents (few updates each: Adam moves a value by about lr per
  update). Adam is lazy for the latents: only the slices the batch used move, with a step count
  per slice. Batches are chunks aligned to the grid, `--batch` (1) consecutive grid intervals,
  shuffled each epoch: a step renders frames S*j .. S*(j+b)-1 (clipped to T), which use slices
  j .. j+b (slice j-1 too, as context of slice j, not moved); the rate term counts the slices the
  chunk owns, j .. j+b-1 and the final slice when the chunk reaches the end of the grid, so that
  an epoch counts every slice's bits once, divided by the chunk's pixels (frames x H x W); the
  moved slices are the owned ones and the end point j+b. Both learning rates were picked on a
  tiny run (carphone, 8 frames), not tuned to the clips.
- One thread by default: these small operations ran faster on one than on two (bunny, S = 1,
  batch 4, idle machine: 3.9 against 2.8 steps a second).

Real coding: the latents are rounded; the networks are quantized to 8 bits and from then on only
the dequantized weights are used, as a decoder would; each latent's (mean, scale) is computed from
the integer latents and rounded to float16, what a decoder could reproduce on this machine (a real
codec needs integer arithmetic in the context model for cross-machine determinism, as Cool-chic
has; this probe does not show that). Every grid slice is coded once (G per level, the previous
slice as context as in fitting); each non-constant level is range coded with constriction's
QuantizedLaplace on [min, max] of that level (a constant level costs only its range, in the
header); the stream is decoded back with the same parameters (those a raster-order decoder would
compute, the model being causal) and checked against the integers. Bytes = coded latents +
packed 8-bit weights + a 64-byte header (sizes, levels, time stride, per-level symbol ranges;
the architecture is fixed). The frames scored are rendered with the blend above.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import constriction
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from nvcodec.bitstream.entropy import pack_tensors
from nvcodec.io import read_video, write_atomic
from nvcodec.rd.provenance import provenance
from nvcodec.bitstream.quant import dequantize_tensors, quantize_tensors
from nvcodec.training.rate import soft_round
from nvcodec.rd.runner import DEFAULT_SIZES, score

#: Lambdas (loss = MSE + lambda * bpp): a ladder of four, spaced to span about 0.02-0.1 bpp on
#: bunny 320x180 at 120 s from one point (lambda 0.15: 0.040 bpp) and the slope of an earlier
#: S = 1 sweep; not tuned per clip.
DEFAULT_LAMBDAS = "2e-2,5e-2,1.5e-1,5e-1"
HEADER_BYTES = 64
MIN_SCALE = 0.01
MAX_BITS = -math.log2(1e-9)  # P(q) >= 1e-9
NOISE_END, STE_START = 0.1, 0.9  # shares of the budget: noise, soft rounding, straight-through
TEMPERATURES = (0.3, 0.1)  # soft-round temperature (1 / alpha), annealed over soft rounding


# ---------------------------------------------------------------------------- networks
class Synthesis(nn.Module):
    """Up-sampled slices -> 1x1 K->S, GELU, 1x1 S->S, GELU, 1x1 S->3, + a residual 3x3 3->3, + 0.5.
    The 3x3 layer works on 3 channels, not S (Cool-chic's shape): a 3x3 S->3 conv cost 9 S*3
    multiplications a pixel and was the slowest layer on the CPU, a third of a step."""

    def __init__(self, levels: int, width: int):
        super().__init__()
        self.fc1 = nn.Conv2d(levels, width, 1)
        self.fc2 = nn.Conv2d(width, width, 1)
        self.head = nn.Conv2d(width, 3, 1)
        self.refine = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, slices: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Slices (B, 1, h_k, w_k), finest first -> RGB (B, 3, H, W), about [0, 1]."""
        ups = [s if s.shape[-2:] == size else F.interpolate(s, size=size, mode="bilinear", align_corners=False)
               for s in slices]
        x = self.head(F.gelu(self.fc2(F.gelu(self.fc1(torch.cat(ups, 1))))))
        return x + self.refine(x) + 0.5


def neighbours(cur: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) twice -> (B, 21, h, w): per value, the 12 values before it in raster order
    within a 5x5 window of its own slice, and the 3x3 window around it in the previous frame's
    slice; zeros beyond the borders. Only values a raster-order decoder has already decoded."""
    h, w = cur.shape[-2:]
    c = F.pad(cur, (2, 2, 2, 0))  # rows above and columns either side; nothing below
    p = F.pad(prev, (1, 1, 1, 1))
    cols = [c[..., i:i + h, j:j + w] for i in range(3) for j in range(5) if i < 2 or j < 2]
    cols += [p[..., i:i + h, j:j + w] for i in range(3) for j in range(3)]
    return torch.cat(cols, 1)


class ContextModel(nn.Module):
    """Laplace (mean, scale) of each latent from its causal neighbours: an MLP 21 -> C -> C -> 2
    (as 1x1 convs over the gathered neighbours: faster on the CPU than a masked 5x5 conv, whose
    one input channel the convolution backend handles badly), a learned bias per level."""

    INPUTS = 21

    def __init__(self, levels: int, width: int):
        super().__init__()
        self.fc1 = nn.Conv2d(self.INPUTS, width, 1, bias=False)
        self.level_bias = nn.Parameter(torch.zeros(levels, width))
        self.fc2 = nn.Conv2d(width, width, 1)
        self.out = nn.Conv2d(width, 2, 1)

    def forward(self, cur: torch.Tensor, prev: torch.Tensor, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cur, prev: (B, 1, h, w) -> Laplace mean and scale of every value of cur, (B, 1, h, w)."""
        h = self.fc1(neighbours(cur, prev)) + self.level_bias[level].view(1, -1, 1, 1)
        mean, raw = self.out(F.gelu(self.fc2(F.gelu(h)))).chunk(2, dim=1)
        return mean, MIN_SCALE + F.softplus(raw)


def macs_per_pixel(levels: int, finest: int, synth: int, ctx: int, time_stride: int = 1) -> float:
    """Multiplications per decoded pixel: bilinear up-sampling (4 per up-sampled level), the
    temporal blend (2 per level, counted as if done at full size, when time_stride > 1),
    synthesis, and the context model once per latent (latents per pixel divided by the stride:
    a grid slice per ``time_stride`` frames, ignoring the one extra slice at the end)."""
    latents_per_pixel = sum(4.0 ** -k for k in range(finest, finest + levels)) / time_stride
    context = ContextModel.INPUTS * ctx + ctx * ctx + 2 * ctx
    upsampled = levels - (finest == 0)
    blend = 2 * levels if time_stride > 1 else 0
    return (4 * upsampled + blend + levels * synth + synth * synth + 3 * synth + 81
            + context * latents_per_pixel)


# ---------------------------------------------------------------------------- rate and quantization
def laplace_bits(q: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """-log2 of the Laplace's mass on [q - 1/2, q + 1/2], computed in the log domain."""
    d = (q - mean).abs()
    # |q - mean| >= 1/2: the bin lies on one side, P = 1/2 exp(-(d - 1/2)/b) (1 - exp(-1/b))
    far = math.log(0.5) - (d - 0.5).clamp_min(0) / scale + torch.log(-torch.expm1(-1 / scale))
    # the bin holds the mean: P = 1 - 1/2 exp(-(1/2 - d)/b) - 1/2 exp(-(1/2 + d)/b)
    near = torch.log1p(-0.5 * (torch.exp(-(0.5 - d).clamp_min(0) / scale) + torch.exp(-(0.5 + d) / scale)))
    return (-torch.where(d >= 0.5, far, near) / math.log(2)).clamp(max=MAX_BITS)


def quantize(y: torch.Tensor, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(what the rate sees, what synthesis and context see) for the phase at ``progress``."""
    if progress >= STE_START:
        q = y + (torch.round(y) - y).detach()
        return q, q
    noise = torch.rand_like(y) - 0.5
    if progress < NOISE_END:
        return y + noise, y + noise
    share = (progress - NOISE_END) / (STE_START - NOISE_END)
    t = TEMPERATURES[0] + share * (TEMPERATURES[1] - TEMPERATURES[0])
    noisy = soft_round(y, 1 / t) + noise  # sharpness 1 / temperature
    return noisy, soft_round(noisy, 1 / t)


def blend(x: torch.Tensor, here: torch.Tensor, after: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Grid slices x (n, 1, h, w) -> a slice per frame, (len(here), 1, h, w): x[here] alone where
    weight is 0 (a frame on the grid; always so with time stride 1), else
    (1 - weight) x[here] + weight x[after], linear interpolation between two grid slices."""
    if not bool(weight.any()):
        return x[here]
    w = weight.view(-1, 1, 1, 1)
    return x[here] * (1 - w) + x[after] * w


# ---------------------------------------------------------------------------- fitting
@dataclass
class Config:
    levels: int = 7
    finest: int = 0  # the finest level's down-sampling, 2^finest
    synth_width: int = 24
    ctx_width: int = 16
    batch: int = 1  # consecutive grid intervals per step (frames with time stride 1)
    lr_latent: float = 2e-1
    lr_net: float = 1e-2
    iterations: int = 0  # > 0: fit for this many steps instead of the wall time (tuning on a loaded machine)
    time_stride: int = 8  # S: a grid slice every S frames, frames between blended linearly (1: one per frame)


class Probe:
    """The latents (level k: (G, h_k, w_k), zeros; G = ceil((T-1)/S) + 1 grid slices, S the time
    stride, G = T for S = 1) and the two networks, fitted to ``frames``."""

    def __init__(self, frames: np.ndarray, cfg: Config, device: str = "cpu"):
        if cfg.time_stride < 1:
            raise ValueError(f"time_stride must be >= 1, not {cfg.time_stride}")
        self.cfg = cfg
        self.device = torch.device(device)
        self.target = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float().div(255)
        self.T, _, self.H, self.W = self.target.shape
        self.S = cfg.time_stride
        self.G = -(-(self.T - 1) // self.S) + 1  # grid slices, at frames 0, S, 2S, ... (the last >= T-1)
        self.intervals = -(-self.T // self.S)  # grid intervals holding frames: S*j .. S*(j+1)-1, clipped to T
        self.latents = [torch.zeros(self.G, -(-self.H // 2 ** k), -(-self.W // 2 ** k), device=self.device)
                        for k in range(cfg.finest, cfg.finest + cfg.levels)]
        self.synth = Synthesis(cfg.levels, cfg.synth_width).to(self.device)
        self.ctx = ContextModel(cfg.levels, cfg.ctx_width).to(self.device)

    def to_cpu(self) -> None:
        """Everything on the CPU (coding and scoring run there)."""
        self.device = torch.device("cpu")
        self.target = self.target.cpu()
        self.latents = [z.cpu() for z in self.latents]
        self.synth.cpu()
        self.ctx.cpu()

    def frame_slices(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frames start..stop-1 -> (slice i = t // S, slice i+1 clamped to the grid, weight (t % S) / S)."""
        t = torch.arange(start, stop, device=self.device)
        here = t // self.S
        return here, (here + 1).clamp(max=self.G - 1), (t % self.S).float() / self.S

    def step(self, first: int, last: int, lam: float, progress: float) -> tuple[torch.Tensor, list[torch.Tensor], int]:
        """Loss of grid intervals first..last-1 (frames S*first .. min(S*last, T)-1), the latent
        blocks (leaves; slices first-1 or first onwards) that got gradients, and how many leading
        rows of the blocks are context only (1: slice first-1, 0 when first = 0). The rate counts
        the slices the chunk owns, first..last-1, and up to the final slice when the chunk reaches
        the end of the grid; the blocks also hold slice last, the interpolation end point."""
        start, stop = self.S * first, min(self.S * last, self.T)
        here, after, weight = self.frame_slices(start, stop)
        owned_stop = self.G if last >= self.intervals else last
        used_stop = int(torch.where(weight > 0, after, here).max()) + 1
        lo, hi = max(first - 1, 0), max(owned_stop, used_stop)  # slice first-1: context of slice first only
        own = slice(first - lo, owned_stop - lo)
        blocks, slices, bits = [], [], 0.0
        for k, z in enumerate(self.latents):
            block = z[lo:hi].clone().requires_grad_()
            blocks.append(block)
            q_rate, q_syn = quantize(block.unsqueeze(1), progress)
            cur = q_syn[own]
            if first == 0:  # slice 0's previous is zeros
                prev = torch.cat([torch.zeros_like(q_syn[:1]), q_syn[:owned_stop - lo - 1]])
            else:
                prev = q_syn[own.start - 1:own.stop - 1]
            mean, scale = self.ctx(cur, prev, k)
            bits = bits + laplace_bits(q_rate[own], mean, scale).sum()
            slices.append(blend(q_syn, here - lo, after - lo, weight))
        rgb = self.synth(slices, (self.H, self.W))
        mse = F.mse_loss(rgb, self.target[start:stop])
        return mse + lam * bits / ((stop - start) * self.H * self.W), blocks, first - lo


def fit(probe: Probe, lam: float, budget: float, cfg: Config, quiet: bool) -> dict[str, Any]:
    opt = torch.optim.Adam(list(probe.synth.parameters()) + list(probe.ctx.parameters()), lr=cfg.lr_net)
    # lazy Adam for the latents: moments per value, a step count per grid slice; only the slices
    # the batch used move (those it owns and, with time stride > 1, the interpolation end point)
    m = [torch.zeros_like(z) for z in probe.latents]
    v = [torch.zeros_like(z) for z in probe.latents]
    steps = torch.zeros(probe.G, device=probe.device)
    b1, b2, eps = 0.9, 0.999, 1e-8
    chunks = [(j, min(j + cfg.batch, probe.intervals)) for j in range(0, probe.intervals, cfg.batch)]
    iterations = epochs = 0
    t0 = time.perf_counter()
    total = cfg.iterations or round(budget)
    bar = tqdm(total=total, disable=quiet, unit="it" if cfg.iterations else "s", desc=f"fit lambda {lam:g}",
               leave=False)
    progress, loss = 0.0, float("nan")
    while progress < 1:
        random.shuffle(chunks)
        for first, last in chunks:
            elapsed = time.perf_counter() - t0
            progress = iterations / cfg.iterations if cfg.iterations else elapsed / budget
            if progress >= 1:
                break
            bar.update((iterations if cfg.iterations else round(elapsed)) - bar.n)
            decay = 0.5 * (1 + math.cos(math.pi * progress))
            for g in opt.param_groups:
                g["lr"] = cfg.lr_net * decay
            total_loss, blocks, skip = probe.step(first, last, lam, progress)
            opt.zero_grad(set_to_none=True)
            total_loss.backward()
            opt.step()
            with torch.no_grad():
                rows = slice(first, first + len(blocks[0]) - skip)
                steps[rows] += 1
                c1 = (1 - b1 ** steps[rows]).view(-1, 1, 1)
                c2 = (1 - b2 ** steps[rows]).view(-1, 1, 1)
                for z, mk, vk, block in zip(probe.latents, m, v, blocks):
                    g = block.grad[skip:]  # the slice before the batch: context only
                    mk[rows].mul_(b1).add_(g, alpha=1 - b1)
                    vk[rows].mul_(b2).addcmul_(g, g, value=1 - b2)
                    z[rows] -= cfg.lr_latent * decay * (mk[rows] / c1) / ((vk[rows] / c2).sqrt() + eps)
            iterations += 1
            loss = float(total_loss.detach())
        else:  # a whole pass over the grid
            epochs += 1
    bar.close()
    return {"iterations": iterations, "epochs": epochs, "fit_s": time.perf_counter() - t0, "final-loss": loss}


# ---------------------------------------------------------------------------- coding
@torch.no_grad()
def encode(probe: Probe) -> dict[str, Any]:
    """Code the fitted probe for real; returns the bytes and the decoder's frames (uint8)."""
    probe.to_cpu()
    t0 = time.perf_counter()
    nets = {f"synth.{n}": t for n, t in probe.synth.state_dict().items()}
    nets |= {f"ctx.{n}": t for n, t in probe.ctx.state_dict().items()}
    quantized = quantize_tensors(nets, 8)
    network_bytes = len(pack_tensors(list(quantized.values()))[0])
    # from here on only what a decoder holds: the 8-bit weights, dequantized, and integer latents
    cfg, batch = probe.cfg, probe.cfg.batch  # grid slices per context-model call; times S frames per render
    synth, ctx = Synthesis(cfg.levels, cfg.synth_width), ContextModel(cfg.levels, cfg.ctx_width)
    deq = dequantize_tensors(quantized)
    synth.load_state_dict({n[6:]: t for n, t in deq.items() if n.startswith("synth.")})
    ctx.load_state_dict({n[4:]: t for n, t in deq.items() if n.startswith("ctx.")})
    ints = [torch.round(z) for z in probe.latents]
    encoder = constriction.stream.queue.RangeEncoder()
    coded, estimated_bits, checked = [], 0.0, 0
    for k, q in enumerate(ints):
        x = q.unsqueeze(1)
        prev = torch.cat([torch.zeros_like(x[:1]), x[:-1]])
        params = [ctx(x[s:s + batch], prev[s:s + batch], k) for s in range(0, probe.G, batch)]
        # float16 parameters: what the decoder computes, reduced to a few significant digits
        mean = torch.cat([p[0] for p in params]).half().double()
        scale = torch.cat([p[1] for p in params]).half().double()
        symbols = q.flatten().to(torch.int32).numpy()
        lo, hi = int(symbols.min()), int(symbols.max())
        if lo == hi:  # a constant level (all zeros, typically): its range in the header says it all
            continue
        estimated_bits += float(laplace_bits(x.double(), mean, scale).sum())
        model = constriction.stream.model.QuantizedLaplace(lo, hi)
        means, scales = mean.flatten().numpy(), scale.flatten().numpy()
        encoder.encode(symbols, model, means, scales)
        coded.append((symbols, model, means, scales))
        checked += symbols.size
    stream = encoder.get_compressed()
    encode_s = time.perf_counter() - t0
    decoder = constriction.stream.queue.RangeDecoder(stream)
    for symbols, model, means, scales in coded:
        assert np.array_equal(decoder.decode(model, means, scales), symbols), "latents did not decode back"
    rendered = []
    for s in range(0, probe.T, batch * probe.S):
        here, after, weight = probe.frame_slices(s, min(s + batch * probe.S, probe.T))
        rendered.append(synth([blend(q.unsqueeze(1), here, after, weight) for q in ints], (probe.H, probe.W)))
    rgb = torch.cat(rendered)
    frames = rgb.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    latent_bytes = int(stream.nbytes)
    return {"bytes": latent_bytes + network_bytes + HEADER_BYTES, "latent-bytes": latent_bytes,
            "network-bytes": network_bytes, "estimated-latent-bytes": estimated_bits / 8, "encode_s": encode_s,
            "nonzero-latents": int(sum(int((q != 0).sum()) for q in ints)), "coded-latents": checked, "frames": frames}


# ---------------------------------------------------------------------------- report
COLUMNS = ("lambda", "bytes", "bpp", "psnr-rgb", "psnr-yuv", "psnr-y", "psnr-u", "psnr-v", "ms-ssim-rgb",
           "latent-bytes", "network-bytes", "estimated-latent-bytes", "nonzero-latents", "coded-latents",
           "iterations", "epochs", "fit_s", "encode_s", "final-loss")


def load_points(path: Path, setup: dict[str, Any]) -> list[dict[str, Any]]:
    """The points of an earlier run of the same setup at ``path`` (none otherwise)."""
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    if old.get("meta", {}).get("setup") != setup:
        return []
    r = old["results"]
    return [{c: r[c][i] for c in COLUMNS if c in r} for i in range(len(r["lambda"]))]


def write_report(path: Path, points: list[dict[str, Any]], setup: dict[str, Any]) -> None:
    points = sorted(points, key=lambda p: p["bpp"])
    report = {"name": f"latent probe {setup['budget_s']:g} s",
              "description": "C3 / Cool-chic style latent grids (latent pyramid per frame, or per time_stride-th frame "
                             "blended linearly between, tiny synthesis, causal "
                             "spatio-temporal context model, Laplace), fitted for the budget's wall time on this CPU; "
                             "bytes range coded with constriction and decoded back, 8-bit network weights, 64-byte "
                             "header; frames rendered from the integer latents and dequantized weights",
              "results": {c: [p.get(c) for p in points] for c in COLUMNS},
              "meta": {"provenance": provenance(), "budget": f"{setup['budget_s']:g} s wall time per point",
                       "setup": setup}}
    write_atomic(path, (json.dumps(report, indent=1) + "\n").encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--source", default=None, help="read the clip's frames from this file (default: the clip)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds of fitting (wall time) per point")
    parser.add_argument("--lambdas", default=DEFAULT_LAMBDAS, help="loss = MSE + lambda * bpp, comma-separated")
    parser.add_argument("--frames", default=None, help="A:B, frames A..B-1 (default all)")
    defaults = Config()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: faster than 2 for this probe, measured)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="fit on this device (cuda: how far more iterations go)")
    parser.add_argument("--output", default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    cfg = Config(**{name: getattr(args, name) for name in asdict(defaults)})
    torch.set_num_threads(args.threads)
    frames = tuple(int(x) for x in args.frames.split(":")) if args.frames else None
    video = read_video(args.source or args.clip, size=DEFAULT_SIZES.get(args.clip), frames=frames, keep_yuv=True)
    info = video.info
    setup = {"clip": args.clip, "size": [info.width, info.height], "frames": info.frames,
             "first_frame": frames[0] if frames else 0, "budget_s": args.budget, **asdict(cfg),
             "threads": args.threads, "seed": args.seed, **({"device": args.device} if args.device != "cpu" else {}),
             "weights_bits": 8, "header_bytes": HEADER_BYTES,
             "macs_per_pixel": round(macs_per_pixel(cfg.levels, cfg.finest, cfg.synth_width, cfg.ctx_width,
                                                    cfg.time_stride))}
    suffix = (f"-ts{cfg.time_stride}" if cfg.time_stride != Config.time_stride else "") + \
        (f"-frames{frames[0]}-{frames[1]}" if frames else "")
    output = Path(args.output or Path(__file__).resolve().parent / args.clip /
                  f"latent-probe-{args.budget:g}s{suffix}.json")
    points = load_points(output, setup)
    for lam in (float(x) for x in args.lambdas.split(",")):
        random.seed(args.seed)
        torch.manual_seed(args.seed)
        probe = Probe(video.frames, cfg, args.device)
        fitted = fit(probe, lam, args.budget, cfg, args.quiet)
        coded = encode(probe)
        quality = score(video, coded.pop("frames"))
        point = {"lambda": lam, "bpp": info.bpp(coded["bytes"]), **coded, **quality, **fitted}
        points = [p for p in points if p["lambda"] != lam] + [point]
        write_report(output, points, setup)
        print(f"lambda {lam:g}: {point['bpp']:.4f} bpp ({point['latent-bytes']} latent + {point['network-bytes']} "
              f"network bytes; estimated latents {point['estimated-latent-bytes']:.0f}), {point['psnr-rgb']:.2f} dB "
              f"PSNR-RGB, {point['iterations']} iterations ({point['epochs']} epochs) in {point['fit_s']:.1f} s, "
              f"{point['coded-latents']} coded latents decoded back and checked", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
